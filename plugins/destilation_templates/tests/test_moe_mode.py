"""The `moe` mode: experts asked concurrently as themselves, one aggregation, the content assembled."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from destilation import Generation, GenerationRequest, Issue, ProviderInfo, Task, TaskSeed, Usage
from destilation.config import JobSpec, structure
from destilation.engine.attempts import RequestRefused
from destilation.errors import ConfigError
from destilation.modes import ModeContext
from destilation_templates.builtin import MOE
from destilation_templates.moe import (
    AGGREGATION_TITLE,
    EXPERT_TITLE,
    Expert,
    MoeConfig,
    MoeMode,
    make_moe,
)
from destilation_templates.moe_rules import MoeRules

pytestmark = pytest.mark.anyio

EXPERTS = [
    {"name": "physicist", "description": "forces and energy", "provider": "physics"},
    {"name": "chemist", "description": "reactions and bonds"},
]
SPEC = JobSpec(name="moe-unit", template="moe", providers={})
SEED = TaskSeed(3, axes={"topic": "rust", "persona": "a teenager", "difficulty": "easy"})


def config(**changes: Any) -> MoeConfig:
    return structure({"experts": EXPERTS, **changes}, MoeConfig, source="job.toml", path="$.mode")


class Caller:
    """Stands in for the engine's `call`: answers each request from a script keyed by its schema."""

    def __init__(self, expert_texts: dict[str, str], final: str) -> None:
        self.expert_texts = expert_texts
        self.final = final
        self.calls: list[tuple[GenerationRequest, str | None]] = []

    async def __call__(self, request: GenerationRequest, provider: str | None) -> tuple[ProviderInfo, Generation]:
        self.calls.append((request, provider))
        name = provider or "teacher"
        info = ProviderInfo(name, "scripted", f"{name}-model")
        schema = request.response_schema or {}
        if schema.get("title") == EXPERT_TITLE:
            system = request.messages[0].content
            expert = next(e for e in self.expert_texts if system.startswith(f"You are {e},"))
            text = self.expert_texts[expert]
        else:
            text = self.final
        usage = Usage(prompt_tokens=10, completion_tokens=5)
        return info, Generation(text, name, info.model, usage=usage, cost=0.5, latency_s=1.0)


def context(caller: Any, feedback: tuple[Issue, ...] = ()) -> ModeContext:
    return ModeContext(SPEC, MOE, Task("moe-unit", SEED), 1, feedback, caller, seed=42)


def answers(physicist: str = "F = ma explains it.", chemist: str = "Iron oxidises.") -> dict[str, str]:
    return {"physicist": json.dumps({"answer": physicist}), "chemist": json.dumps({"answer": chemist})}


async def test_each_expert_answers_as_itself_then_one_call_merges() -> None:
    caller = Caller(answers(), json.dumps({"domain": "chemist", "answer": "Rust is iron oxide."}))
    production = await MoeMode(config()).produce(context(caller))

    question = MOE.render(SEED)[-1].content
    content = json.loads(production.generation.text)
    assert content == {
        "question": question,
        "domain": "chemist",
        "experts": [
            {"name": "physicist", "answer": "F = ma explains it."},
            {"name": "chemist", "answer": "Iron oxidises."},
        ],
        "answer": "Rust is iron oxide.",
    }
    assert production.calls == 3 and len(caller.calls) == 3
    by_provider = {provider: request for request, provider in caller.calls[:2]}
    assert set(by_provider) == {"physics", None}  # the physicist's own provider; the chemist rides the route
    physicist = by_provider["physics"]
    assert "forces and energy" in physicist.messages[0].content
    assert physicist.messages[-1].content == question
    assert physicist.response_schema is not None and physicist.response_schema["title"] == EXPERT_TITLE
    assert (physicist.seed, physicist.attempt) == (42, 1)

    final, provider = caller.calls[2]
    assert provider is None
    assert final.response_schema is not None and final.response_schema["title"] == AGGREGATION_TITLE
    assert final.response_schema["properties"]["domain"]["enum"] == ["physicist", "chemist"]
    assert MOE.system_prompt in final.messages[0].content
    # the experts' answers reach the aggregator as JSON data, labelled with their names
    block = final.messages[1].content.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == content["experts"]
    assert production.prompt == final.messages
    assert production.provider.name == "teacher"
    # usage, cost and time are summed over all three calls
    assert production.generation.usage == Usage(prompt_tokens=30, completion_tokens=15)
    assert production.generation.cost == 1.5
    assert production.generation.latency_s == 3.0


async def test_the_aggregator_may_have_its_own_provider() -> None:
    caller = Caller(answers(), json.dumps({"domain": "chemist", "answer": "x"}))
    production = await MoeMode(config(aggregator="judge")).produce(context(caller))
    assert caller.calls[-1][1] == "judge"
    assert production.provider.name == "judge"


async def test_experts_are_asked_at_the_same_time() -> None:
    both = anyio.Event()
    waiting = 0
    inner = Caller(answers(), json.dumps({"domain": "chemist", "answer": "x"}))

    async def caller(request: GenerationRequest, provider: str | None) -> tuple[ProviderInfo, Generation]:
        nonlocal waiting
        if request.response_schema and request.response_schema["title"] == EXPERT_TITLE:
            waiting += 1
            if waiting == 2:
                both.set()
            await both.wait()  # one expert at a time would never get past this
        return await inner(request, provider)

    with anyio.fail_after(30):  # a guard against a hang, not a speed assertion
        production = await MoeMode(config()).produce(context(caller))
    assert production.calls == 3


async def test_a_silent_expert_is_left_out_for_the_rules_to_report() -> None:
    texts = {"physicist": "I would rather not say.", "chemist": json.dumps({"answer": 7})}
    caller = Caller(texts, json.dumps({"domain": "physicist", "answer": "x"}))
    production = await MoeMode(config()).produce(context(caller))
    content = json.loads(production.generation.text)
    assert content["experts"] == []


async def test_an_unparsable_aggregation_is_passed_on_as_it_came() -> None:
    caller = Caller(answers(), "Sure! The answer is rust.")
    production = await MoeMode(config()).produce(context(caller))
    assert production.generation.text == "Sure! The answer is rust."


async def test_keys_the_aggregator_left_out_stay_out() -> None:
    caller = Caller(answers(), json.dumps({"note": "nothing"}))
    production = await MoeMode(config()).produce(context(caller))
    content = json.loads(production.generation.text)
    assert "domain" not in content and "answer" not in content
    assert len(content["experts"]) == 2


async def test_feedback_reaches_every_call() -> None:
    issue = Issue("moe_no_answer", "the final answer is missing or empty", "$.answer", "merge them")
    caller = Caller(answers(), json.dumps({"domain": "chemist", "answer": "x"}))
    await MoeMode(config()).produce(context(caller, (issue,)))
    for request, _ in caller.calls:
        assert "[moe_no_answer]" in request.messages[-1].content
        assert "merge them" in request.messages[-1].content


async def test_an_engine_exception_passes_through_unwrapped() -> None:
    refused = RequestRefused("provider physics refused the request: no such model")
    inner = Caller(answers(), json.dumps({"domain": "chemist", "answer": "x"}))

    async def caller(request: GenerationRequest, provider: str | None) -> tuple[ProviderInfo, Generation]:
        if provider == "physics":
            raise refused
        await anyio.sleep_forever()  # the other expert is cancelled, not waited for
        raise AssertionError("unreachable")  # pragma: no cover

    with anyio.fail_after(30), pytest.raises(RequestRefused) as caught:
        await MoeMode(config()).produce(context(caller))
    assert caught.value is refused
    assert inner.calls == []


def test_validators_know_the_declared_experts() -> None:
    (rules,) = make_moe(config(), None).validators()  # type: ignore[arg-type]
    assert isinstance(rules, MoeRules)
    assert rules.experts == ("physicist", "chemist")
    assert rules.name == "moe_rules"


def test_check_job_accepts_known_providers() -> None:
    spec = structure(
        {"name": "m", "providers": {"teacher": {"kind": "mock"}, "physics": {"kind": "mock", "route": False}}},
        JobSpec,
        source="job.toml",
    )
    MoeMode(config(aggregator="teacher")).check_job(spec, "job.toml")


@pytest.mark.parametrize(
    ("providers", "changes", "path", "name"),
    [
        (["teacher"], {}, "$.mode.experts[0].provider", "physics"),
        (["teacher", "physics"], {"aggregator": "judge"}, "$.mode.aggregator", "judge"),
    ],
)
def test_check_job_names_the_key_of_an_unknown_provider(
    providers: list[str], changes: dict[str, Any], path: str, name: str
) -> None:
    table = {"name": "m", "providers": {p: {"kind": "mock"} for p in providers}}
    spec = structure(table, JobSpec, source="job.toml")
    with pytest.raises(ConfigError) as caught:
        MoeMode(config(**changes)).check_job(spec, "job.toml")
    have = ", ".join(providers)
    assert str(caught.value) == f"job.toml: {path}: no provider named {name!r} (the job has {have})"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "job.toml: $.mode.experts: required key missing"),
        ({"experts": EXPERTS[:1]}, "job.toml: $.mode.experts: must declare at least 2 experts, got 1"),
        ({"experts": [EXPERTS[1], EXPERTS[1]]}, "job.toml: $.mode.experts: names an expert more than once: chemist"),
        (
            {"experts": [EXPERTS[0], {"name": " ", "description": "x"}]},
            "job.toml: $.mode.experts[1].name: must not be empty",
        ),
        ({"experts": EXPERTS, "judge": "x"}, "job.toml: $.mode.judge: unknown key"),
    ],
)
def test_the_mode_table_is_checked(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        structure(table, MoeConfig, source="job.toml", path="$.mode")
    assert str(caught.value) == message


def test_an_expert_without_provider_rides_the_route() -> None:
    assert config().experts[1] == Expert("chemist", "reactions and bonds")
