"""The testing kit's own parts: the scripted provider, the memory sink, the contract's helpers, the fixtures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from destilation import Generation, GenerationRequest, JobState, Message, ProviderError, SinkCursor
from destilation.app import App
from destilation.testing import MemorySink, MemoryStore, ScriptedProvider, StoreContract, TestingKit, job_table
from destilation.testing.memory_sink import MemoryDataset
from destilation.testing.store_contract import raises, sample

REQUEST = GenerationRequest(messages=(Message("user", "hello"),))


@pytest.mark.anyio
async def test_a_scripted_provider_answers_in_order_then_says_the_script_ran_out() -> None:
    given = Generation("as given", "p", "m", finish_reason="length")
    provider = ScriptedProvider(["text", {"a": 1}, given, ProviderError("busy", status=503)])
    assert (await provider.generate(REQUEST)).text == "text"
    assert (await provider.generate(REQUEST)).text == '{"a": 1}'
    assert await provider.generate(REQUEST) is given
    with pytest.raises(ProviderError, match="busy"):
        await provider.generate(REQUEST)
    with pytest.raises(ProviderError, match="the script has 4 answers; this is call 5") as info:
        await provider.generate(REQUEST)
    assert info.value.retryable is False
    assert await provider.models() == ["scripted-1"] and provider.info().capabilities == {"json_schema"}
    assert len(provider.requests) == 5
    await provider.aclose()
    assert provider.closed


@pytest.mark.anyio
async def test_a_scripted_provider_can_answer_from_a_function() -> None:
    provider = ScriptedProvider(lambda request: request.messages[-1].content.upper())
    generation = await provider.generate(REQUEST)
    assert (generation.text, generation.provider, generation.model) == ("HELLO", "scripted", "scripted-1")


@pytest.mark.anyio
async def test_the_memory_sink_keeps_a_file_sinks_cursor_rules() -> None:
    dataset = MemoryDataset()
    sink = MemorySink(dataset)
    assert await sink.open(SinkCursor()) == SinkCursor()
    one, two = sample("job", 0), sample("job", 1)
    first = await sink.write([one])
    end = await sink.write([two])
    assert await sink.write([]) == end and dataset.writes == 2
    reopened = MemorySink(dataset)  # the process died after writing `two`, before its cursor was stored
    assert await reopened.open(SinkCursor(1, first)) == SinkCursor(1, first)
    assert [r["meta"]["task"] for r in dataset.records()] == [0]
    assert await MemorySink(dataset).open(SinkCursor(1, first - 3)) == SinkCursor()  # torn mid-line
    assert dataset.lines == []
    await reopened.aclose()
    assert reopened.closed and MemorySink().dataset.size == 0


def test_the_contract_helpers_fail_loudly() -> None:
    async def quiet() -> None:
        return None

    with pytest.raises(AssertionError, match="expected Exception"):
        anyio.run(raises, Exception, quiet())
    with pytest.raises(TypeError, match="abstract method make_store"):
        StoreContract()  # type: ignore[abstract]


@pytest.mark.anyio
async def test_the_fixtures_hand_out_an_open_store_and_a_kit_app(
    memory_store: MemoryStore, kit_app: App, testing_kit: TestingKit
) -> None:
    assert memory_store.opened == 1
    spec_table = job_table(count=2)
    from destilation.config import JobSpec, structure

    spec = structure(spec_table, JobSpec, source="job.toml")
    outcome = await kit_app.run(spec, spec_table, "job.toml", resume=False, handle_signals=False)
    assert outcome.state is JobState.DONE
    assert len(testing_kit.dataset("job").lines) == 2


THIRD_PARTY_TEST = """
import pytest

from destilation import Candidate, Issue, ValidationContext, ValidatorRegistrar, Verdict, hookimpl
from destilation.config import JobSpec, structure
from destilation.testing import job_table


class NoBees:
    name = "no_bees"

    def __init__(self, config, context):
        pass

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        if "bees" in candidate.generation.text:
            return Verdict(issues=(Issue("bees", "no bees please"),))
        return Verdict()


class Plugin:
    @hookimpl
    def register_validators(self, register: ValidatorRegistrar) -> None:
        register("no_bees", NoBees)


@pytest.mark.anyio
async def test_no_bees(kit_app, testing_kit):
    kit_app.pm.register(Plugin())
    bees_first = {"topic": ["bees", "tides"]}
    table = job_table(count=1, max_attempts=1, max_tasks=2, validators={"no_bees": {}}, axes=bees_first)
    spec = structure(table, JobSpec, source="job.toml")
    outcome = await kit_app.run(spec, table, "job.toml", resume=False, handle_signals=False)
    assert (outcome.accepted, outcome.rejected) == (1, 1)
    assert "tides" in testing_kit.dataset("job").records()[0]["question"]
"""


def test_a_third_party_opts_into_the_fixtures_with_pytest_plugins(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["destilation.testing.pytest_plugin"]\n\nimport pytest\n\n\n'
        "@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n",
        encoding="utf-8",
    )
    (tmp_path / "test_no_bees.py").write_text(THIRD_PARTY_TEST, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
