"""A testing kit for plugin authors and the core's own tests: a job runs end to end in memory.

- `MemoryStore`: the whole StateStore port, with the SQL store's fencing and exactly-once rules.
- `MemorySink` / `MemoryDataset`: a dataset in memory with a file sink's cursor rules.
- `ScriptedProvider`: answers from a list or a function; can raise `ProviderError`.
- `TestingKit`: a plugin registering all of them (plus a template and a router), and `job_table`.
- `StoreContract`: tests any StateStore must pass; subclass it in your store's tests.
- ``destilation.testing.pytest_plugin``: fixtures (``testing_kit``, ``memory_store``) to opt into.

The kit imports nothing beyond the core's own dependencies (pytest only in the fixtures module).
"""

from destilation.testing.kit import QA, FirstRouter, ParseJson, TestingKit, job_table, qa_answer
from destilation.testing.memory_sink import MemoryDataset, MemorySink
from destilation.testing.memory_store import MemoryStore
from destilation.testing.scripted import Answer, Script, ScriptedProvider
from destilation.testing.store_contract import StoreContract

__all__ = [
    "QA",
    "Answer",
    "FirstRouter",
    "MemoryDataset",
    "MemorySink",
    "MemoryStore",
    "ParseJson",
    "Script",
    "ScriptedProvider",
    "StoreContract",
    "TestingKit",
    "job_table",
    "qa_answer",
]
