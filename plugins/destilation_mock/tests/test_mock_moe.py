"""The mock answers the `moe` mode's calls validly, or broken on purpose at `moe_breakage`'s rate."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from destilation import GenerationRequest, Message, ProviderInfo
from destilation.config import structure
from destilation.errors import ConfigError
from destilation_mock.config import MockConfig
from destilation_mock.moe import UNDECLARED
from destilation_mock.provider import MockProvider

pytestmark = pytest.mark.anyio

# The schemas the moe mode sends (it lives in another distribution, so they are written out here).
EXPERT: dict[str, Any] = {
    "title": "moe expert answer",
    "type": "object",
    "properties": {"answer": {"type": "string", "minLength": 1}},
    "required": ["answer"],
    "additionalProperties": False,
}
AGGREGATION: dict[str, Any] = {
    "title": "moe aggregation",
    "type": "object",
    "properties": {
        "domain": {"type": "string", "enum": ["physicist", "chemist"]},
        "answer": {"type": "string", "minLength": 1},
    },
    "required": ["domain", "answer"],
    "additionalProperties": False,
}
PLAIN: dict[str, Any] = {**AGGREGATION, "title": "something else"}


def provider(**config: Any) -> MockProvider:
    return MockProvider(MockConfig(**config), None, ProviderInfo(name="teacher", kind="mock", model=""))


def request(schema: dict[str, Any], index: int, attempt: int = 1) -> GenerationRequest:
    messages = (Message("system", "You are chemist, an expert."), Message("user", f"Explain rust, case {index}."))
    return GenerationRequest(messages=messages, response_schema=schema, attempt=attempt, seed=index)


def kind(schema: dict[str, Any], text: str) -> str:
    """What a reply is: valid, or which breakage."""
    try:
        value = json.loads(text)
    except ValueError:
        return "prose"
    if not value["answer"]:
        return "empty answer"
    if schema is AGGREGATION and value["domain"] not in ("physicist", "chemist"):
        return "undeclared domain"
    return "valid"


async def replies(schema: dict[str, Any], count: int = 400, **config: Any) -> Counter[str]:
    mock = provider(**config)
    found: Counter[str] = Counter()
    for index in range(count):
        found[kind(schema, (await mock.generate(request(schema, index))).text)] += 1
    return found


@pytest.mark.parametrize("schema", [EXPERT, AGGREGATION], ids=["expert", "aggregation"])
async def test_without_breakage_every_moe_reply_is_valid(schema: dict[str, Any]) -> None:
    assert await replies(schema) == Counter({"valid": 400})


async def test_experts_break_into_silence_or_prose_at_the_rate() -> None:
    found = await replies(EXPERT, moe_breakage=0.3)
    assert set(found) == {"valid", "empty answer", "prose"}
    assert 0.2 < (found["empty answer"] + found["prose"]) / 400 < 0.4


async def test_aggregations_break_into_an_undeclared_label_or_no_answer_at_the_rate() -> None:
    found = await replies(AGGREGATION, moe_breakage=0.3)
    assert set(found) == {"valid", "empty answer", "undeclared domain"}
    assert 0.2 < (found["empty answer"] + found["undeclared domain"]) / 400 < 0.4


async def test_a_spoiled_label_is_one_no_job_declares() -> None:
    mock = provider(moe_breakage=1.0)
    labels = {json.loads((await mock.generate(request(AGGREGATION, i))).text)["domain"] for i in range(40)}
    assert UNDECLARED in labels and labels <= {UNDECLARED, "physicist", "chemist"}


async def test_other_requests_are_never_spoiled_and_nothing_else_shifts() -> None:
    broken, plain = provider(moe_breakage=1.0), provider()
    for index in range(50):
        assert (await broken.generate(request(PLAIN, index))).text == (await plain.generate(request(PLAIN, index))).text


async def test_a_retry_rolls_again() -> None:
    mock = provider(moe_breakage=0.5)
    texts = [kind(EXPERT, (await mock.generate(request(EXPERT, 1, attempt))).text) for attempt in range(1, 30)]
    assert "valid" in texts and set(texts) - {"valid"}
    again = [kind(EXPERT, (await mock.generate(request(EXPERT, 1, attempt))).text) for attempt in range(1, 30)]
    assert again == texts  # the same history gives the same answers


@pytest.mark.parametrize("value", [-0.1, 1.5, "often", True])
def test_moe_breakage_is_a_rate(value: object) -> None:
    with pytest.raises(ValueError, match=r"^moe_breakage must be a number between 0 and 1, got "):
        MockConfig(moe_breakage=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^job.toml: \$\.providers\.teacher"):
        structure({"moe_breakage": value}, MockConfig, source="job.toml", path="$.providers.teacher")
