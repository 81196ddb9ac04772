"""`TestingKit`: one plugin object that registers the kit, so a whole job runs without other plugins.

It registers the ``memory`` store scheme (`MemoryStore`), the ``memory`` sink (`MemorySink`),
the ``scripted`` provider kind (`ScriptedProvider`), the ``first`` router, the ``parse_json``
validator, the ``testing.single`` mode and the ``testing.qa`` template (which runs
``parse_json`` first, so validators after it see the parsed content). Give it to a plugin
manager built without entry points, beside the plugin under test::

    kit = TestingKit(scripts={"teacher": ["not json", {"question": "q?", "answer": "a"}]})
    pm = make_plugin_manager(load=False, extra=[kit, MyValidatorPlugin()])

The stores and datasets it builds stay on the kit, by URL and job name, so a test can look at
them after the run, steer a job as another `destiler` command would, or run it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from destilation.domain import Candidate, GenerationRequest, Issue, JobRecord, Task, Verdict
from destilation.hookspecs import hookimpl
from destilation.interfaces import PluginContext, ProviderInfo, ValidationContext
from destilation.modes import SingleCall
from destilation.registry import (
    ModeRegistrar,
    ProviderRegistrar,
    RouterRegistrar,
    SinkRegistrar,
    StoreRegistrar,
    TemplateRegistrar,
    ValidatorRegistrar,
)
from destilation.templates import Template
from destilation.testing.memory_sink import MemoryDataset, MemorySink
from destilation.testing.memory_store import MemoryStore
from destilation.testing.scripted import Answer, Script, ScriptedProvider

SINGLE = "testing.single"
"""The kit's mode: one request per attempt (`destilation.modes.SingleCall`)."""

QA = Template(
    id="testing.qa",
    version="1",
    mode="testing.single",
    schema={
        "type": "object",
        "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
        "required": ["question", "answer"],
        "additionalProperties": False,
    },
    system_prompt="You write short questions and answers.",
    user_prompt="Write question {index} about {topic}.",
    default_validators=("parse_json",),
    capabilities=(),
    description="The testing kit's template: a question and an answer, parsed by the kit's `parse_json`.",
)


class ParseJson:
    """Parses the answer and hands the content on, as a schema validator does, so later validators see it."""

    name = "parse_json"

    def __init__(self, config: None, context: PluginContext) -> None:
        pass

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        try:
            return Verdict(content=json.loads(candidate.generation.text))
        except ValueError as exc:
            return Verdict(
                issues=(Issue("invalid_json", f"the answer is not JSON: {exc}", hint="answer with JSON only"),)
            )


def qa_answer(request: GenerationRequest) -> Answer:
    """A valid `testing.qa` answer made from the task's prompt, so every task's content differs."""
    prompt = next(m.content for m in request.messages if m.role == "user")
    return {"question": prompt, "answer": f"An answer to: {prompt}"}


class FirstRouter:
    """Always the first healthy candidate: deterministic, for tests."""

    def __init__(self, config: None, context: PluginContext) -> None:
        self.observed: list[tuple[str, bool]] = []

    def choose(self, task: Task, candidates: Sequence[ProviderInfo]) -> ProviderInfo:
        return candidates[0]

    def observe(self, provider: str, ok: bool, latency_s: float) -> None:
        self.observed.append((provider, ok))


@attrs.define(eq=False)  # a plugin is hashed by identity
class TestingKit:
    """The kit as a plugin. `scripts` maps a provider's configured name to its script."""

    __test__ = False  # not a pytest test class, whatever its name

    scripts: dict[str, Script] = attrs.field(factory=dict)
    default_script: Script = qa_answer
    """The script of a provider `scripts` does not name."""
    stores: dict[str, MemoryStore] = attrs.field(factory=dict)
    datasets: dict[str, MemoryDataset] = attrs.field(factory=dict)
    providers: dict[str, ScriptedProvider] = attrs.field(factory=dict)
    """The providers built for the last run, by configured name."""

    def store(self, url: str = "memory://") -> MemoryStore:
        """The store for `url`, made on first use; every `destiler` command of a test shares it."""
        if url not in self.stores:
            self.stores[url] = MemoryStore(url)
        return self.stores[url]

    def dataset(self, job: str) -> MemoryDataset:
        """What the ``memory`` sink wrote for `job` (empty before it wrote anything)."""
        return self.datasets.setdefault(job, MemoryDataset())

    def _provider(self, config: None, context: PluginContext, info: ProviderInfo) -> ScriptedProvider:
        provider = ScriptedProvider(self.scripts.get(info.name, self.default_script), info)
        self.providers[info.name] = provider
        return provider

    def _store(self, url: str, context: PluginContext) -> MemoryStore:
        return self.store(url)

    def _sink(self, config: None, context: PluginContext, job: JobRecord) -> MemorySink:
        return MemorySink(self.dataset(job.name))

    @hookimpl
    def register_providers(self, register: ProviderRegistrar) -> None:
        register("scripted", self._provider)

    @hookimpl
    def register_stores(self, register: StoreRegistrar) -> None:
        register("memory", self._store)

    @hookimpl
    def register_sinks(self, register: SinkRegistrar) -> None:
        register("memory", self._sink)

    @hookimpl
    def register_routers(self, register: RouterRegistrar) -> None:
        register("first", FirstRouter)

    @hookimpl
    def register_templates(self, register: TemplateRegistrar) -> None:
        register(QA.id, QA)

    @hookimpl
    def register_validators(self, register: ValidatorRegistrar) -> None:
        register(ParseJson.name, ParseJson)

    @hookimpl
    def register_modes(self, register: ModeRegistrar) -> None:
        register(SINGLE, lambda config, context: SingleCall(SINGLE))


def job_table(
    name: str = "job", *, count: int = 3, providers: Sequence[str] = ("teacher",), **keys: Any
) -> dict[str, Any]:
    """A job file's table that uses only the kit: its template, router, sink and scripted providers.

    Keyword arguments override or add top-level keys (``max_attempts=1``, ``validators={...}``).
    """
    table: dict[str, Any] = {
        "name": name,
        "template": QA.id,
        "count": count,
        "axes": {"topic": ["tides", "bees"]},
        "providers": {p: {"kind": "scripted", "concurrency": 2} for p in providers},
        "routing": {"strategy": "first"},
        "sinks": {"memory": {}},
        "processes": 1,
    }
    table.update(keys)
    return table
