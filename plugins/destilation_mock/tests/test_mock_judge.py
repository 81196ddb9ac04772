"""The `mock_judge` kind: verdicts in the shape a judge's schema asks for, low or broken in the shares set."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from destilation import ConfigError, GenerationRequest, Message, ProviderError, ProviderInfo
from destilation.config import structure
from destilation_mock.judge import MockJudge, MockJudgeConfig

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scores": {
            "type": "object",
            "properties": {"accuracy": {"type": "integer"}, "clarity": {"type": "integer"}},
            "required": ["accuracy", "clarity"],
        },
        "reasons": {"type": "string"},
    },
}


def request(candidate: str, schema: dict[str, Any] | None = SCHEMA) -> GenerationRequest:
    return GenerationRequest(messages=(Message("user", f"judge this: {candidate}"),), response_schema=schema)


def judge(**options: Any) -> MockJudge:
    config = structure(options, MockJudgeConfig, source="job.toml")
    return MockJudge(config, None, ProviderInfo("judge", "mock_judge", ""))


def kind(text: str) -> str:
    """What a strict judge would make of the reply."""
    try:
        value = json.loads(text)
    except ValueError:
        return "broken"
    scores = value["scores"]
    if set(scores) != {"accuracy", "clarity"} or not all(1 <= s <= 10 for s in scores.values()):
        return "broken"
    return "low" if scores["accuracy"] == 2 else "good"


@pytest.mark.anyio
async def test_an_ordinary_reply_scores_every_criterion_of_the_schema() -> None:
    answer = await judge(cost=0.01).generate(request("a sample"))
    assert json.loads(answer.text) == {"scores": {"accuracy": 8, "clarity": 8}, "reasons": "It meets every criterion."}
    assert (answer.provider, answer.model, answer.cost) == ("judge", "mock-judge-1", 0.01)
    assert judge().info().kind == "mock_judge"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert await judge().models() == ["mock-judge-1"]


@pytest.mark.anyio
async def test_low_and_broken_replies_come_in_the_shares_set_and_repeat_for_the_same_prompt() -> None:
    mock = judge(low_rate=0.5, unparsable_rate=0.2, reasons="Needs an example.")
    texts = [(await mock.generate(request(f"sample {i}"))).text for i in range(400)]
    counts = Counter(kind(t) for t in texts)
    assert 50 < counts["broken"] < 115 and 120 < counts["low"] < 200 and counts["good"] > 100
    low = next(t for t in texts if kind(t) == "low")
    assert json.loads(low)["reasons"] == "Needs an example."
    assert [(await mock.generate(request(f"sample {i}"))).text for i in range(20)] == texts[:20]
    broken = {t[:20] for t in texts if kind(t) == "broken"}
    assert len(broken) == 4  # prose, a fence, out of range, a criterion missing


@pytest.mark.anyio
async def test_a_request_without_a_judge_s_schema_is_refused() -> None:
    for schema in (None, {"type": "object"}, {"properties": {"scores": {"type": "object"}}}):
        with pytest.raises(ProviderError, match="answers only a judge's request"):
            await judge().generate(request("x", schema))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"score": 11}, r"\$\.score: must be an integer from 1 to 10, got 11"),
        ({"low_score": 0}, r"\$\.low_score: must be an integer from 1 to 10"),
        ({"low_rate": 2}, r"\$\.low_rate: must be a number between 0 and 1"),
        ({"unparsable_rate": -0.1}, r"\$\.unparsable_rate: must be a number between 0 and 1"),
        ({"cost": -1}, r"\$\.cost: must be a number, 0 or more"),
    ],
)
def test_bad_options_are_one_line(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        structure(options, MockJudgeConfig, source="job.toml")
