"""The limits a request passes: its provider's, and its model's where `model_limits` names it.

Each of `parts` processes working a job starts with its share of every limit (`policy.shares`
moves the shares as processes come and go). Concurrency is rounded
up (a few requests more in all is harmless, and the engine sizes its workers the same way);
requests and tokens per minute are rounded down, with a minimum of 1, so the processes together
never exceed the provider's limit (unless there are more processes than the limit allows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import TracebackType

import attrs

from destilation.config import ModelLimits, ProviderSpec
from destilation.domain import GenerationRequest
from destilation.policy.slots import Slots
from destilation.policy.window import RateWindow

RATE_PERIOD_S = 61.0
"""The rate window: a minute, and a second of slack for the time a request takes to reach the
server, so that the minute counted there holds no more than ours."""
COMPLETION_GUESS = 256
"""Tokens an answer is assumed to take when the request sets no `max_tokens` (corrected after)."""


def concurrency_share(limit: int, parts: int) -> int:
    return max(1, math.ceil(limit / parts))


def rate_share(limit: int, parts: int) -> int:
    return max(1, limit // parts)


def estimate_tokens(request: GenerationRequest) -> int:
    """Tokens a request will spend, guessed before it goes: 4 characters a token, plus its answer."""
    chars = sum(len(m.content) + len(m.reasoning or "") for m in request.messages)
    return chars // 4 + (request.max_tokens if request.max_tokens is not None else COMPLETION_GUESS)


class _Unlimited:
    """Stands in for the slots of a lane without its own concurrency limit."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        return None


UNLIMITED = _Unlimited()


@attrs.define
class Lane:
    """Everything one request must fit in: slots, request windows and token windows."""

    slots: Slots | _Unlimited = UNLIMITED
    requests: Sequence[RateWindow] = ()
    tokens: Sequence[RateWindow] = ()

    @property
    def paced(self) -> bool:
        return bool(self.requests or self.tokens)


def _window(limit: int | None, parts: int) -> list[RateWindow]:
    return [RateWindow(rate_share(limit, parts), RATE_PERIOD_S, total=limit)] if limit is not None else []


def provider_lane(spec: ProviderSpec, parts: int) -> Lane:
    """The provider's own windows; its concurrency lives in the policy's adaptive slots."""
    return Lane(requests=_window(spec.requests_per_minute, parts), tokens=_window(spec.tokens_per_minute, parts))


def model_lane(base: Lane, limits: ModelLimits, parts: int) -> Lane:
    """A model's lane: its own limits on top of the provider's."""
    slots = Slots(concurrency_share(limits.concurrency, parts)) if limits.concurrency is not None else UNLIMITED
    return Lane(
        slots=slots,
        requests=[*base.requests, *_window(limits.requests_per_minute, parts)],
        tokens=[*base.tokens, *_window(limits.tokens_per_minute, parts)],
    )
