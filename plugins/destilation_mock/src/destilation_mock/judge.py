"""The `mock_judge` provider kind: answers a judge's request with scores, low ones or a broken reply on purpose.

It reads the criteria from the request's response schema (``scores`` and its properties), so
it serves any rubric. Which reply a request gets is a pure function of the seed and the
prompt, which holds the candidate: a retried candidate is a new prompt, hence a new draw.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

import attrs

from destilation import Generation, GenerationRequest, PluginContext, Provider, ProviderError, ProviderInfo, Usage
from destilation_mock.provider import prompt_text, tokens

DEFAULT_MODEL = "mock-judge-1"


def _score(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 10:
        raise ValueError(f"'{attribute.name}' must be an integer from 1 to 10, got {value!r}")


def _share(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"'{attribute.name}' must be a number between 0 and 1, got {value!r}")


def _price(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:  # NaN too
        raise ValueError(f"'{attribute.name}' must be a number, 0 or more, got {value!r}")


@attrs.frozen
class MockJudgeConfig:
    """Rates are probabilities per reply: a broken reply first, then a low score."""

    score: int = attrs.field(default=8, validator=_score)
    """What every criterion gets in an ordinary reply."""
    low_rate: float = attrs.field(default=0.0, validator=_share)
    low_score: int = attrs.field(default=2, validator=_score)
    reasons: str = "The answer states its point but gives no concrete example; add one."
    """The reasons of a low score: what the next attempt's feedback carries."""
    unparsable_rate: float = attrs.field(default=0.0, validator=_share)
    """Share of replies that are not a verdict: prose, a fenced block, a score out of range, a criterion missing."""
    cost: float = attrs.field(default=0.0, validator=_price)
    """The cost (USD) each reply reports, so a test can see a judge's cost counted."""
    seed: int = 0


def _verdict(scores: dict[str, int], reasons: str) -> str:
    return json.dumps({"scores": scores, "reasons": reasons})


BREAKAGES: tuple[Callable[[dict[str, int]], str], ...] = (
    lambda scores: f"I would rate this sample {max(scores.values(), default=9)}/10 overall.",
    lambda scores: f"```json\n{_verdict(scores, 'fine')}\n```",
    lambda scores: _verdict(dict.fromkeys(scores, 11), "fine"),
    lambda scores: _verdict(dict(list(scores.items())[1:]), "fine"),
)
"""Replies a strict judge must refuse, one picked per broken reply."""


def criteria_of(request: GenerationRequest) -> list[str]:
    """The criteria a judge's response schema asks scores for; a request without one is not a judge's."""
    properties = (request.response_schema or {}).get("properties")
    scores = properties.get("scores") if isinstance(properties, dict) else None
    names = scores.get("properties") if isinstance(scores, dict) else None
    if not isinstance(names, dict) or not names:
        raise ProviderError("mock_judge answers only a judge's request (a response schema with scores)")
    return list(names)


class MockJudge(Provider):
    """A judge whose verdicts the job file sets: good, low or broken, in the shares it gives."""

    def __init__(self, config: MockJudgeConfig | None, context: PluginContext | None, info: ProviderInfo) -> None:
        self._config = config or MockJudgeConfig()
        self._info = info
        self._model = info.model or DEFAULT_MODEL

    def info(self) -> ProviderInfo:
        return self._info

    async def models(self) -> list[str]:
        return [self._model]

    async def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        config, prompt = self._config, prompt_text(request.messages)
        names = criteria_of(request)
        digest = hashlib.blake2b(f"{config.seed}\x00".encode(), digest_size=16)
        digest.update(prompt.encode("utf-8", "surrogatepass"))
        rng = random.Random(int.from_bytes(digest.digest(), "big"))
        broken, low, which = rng.random(), rng.random(), rng.random()
        if broken < config.unparsable_rate:
            text = BREAKAGES[int(which * len(BREAKAGES))](dict.fromkeys(names, config.score))
        elif low < config.low_rate:
            text = _verdict(dict.fromkeys(names, config.low_score), config.reasons)
        else:
            text = _verdict(dict.fromkeys(names, config.score), "It meets every criterion.")
        return Generation(
            text=text,
            provider=self._info.name,
            model=self._model,
            usage=Usage(prompt_tokens=tokens(prompt), completion_tokens=tokens(text)),
            cost=config.cost,
            latency_s=time.perf_counter() - started,
        )
