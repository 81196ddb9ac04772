"""Property: whatever answers a provider gives, the policy never sends more than `requests_per_minute`
in any 60-second window, on a manual clock with many requests waiting at once."""

from __future__ import annotations

from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from destilation.config import ProviderSpec
from destilation.defaults import classify_error
from destilation.domain import GenerationRequest, Message
from destilation.interfaces import ProviderError
from destilation.policy import ManualClock, ProviderUnavailable, make_policy
from destilation.testing import ScriptedProvider

answers = st.lists(
    st.one_of(
        st.just("ok"),
        st.builds(
            lambda s: ProviderError("slow down", status=429, retry_after=s), st.sampled_from([0.0, 0.5, 3.0, 70.0])
        ),
        st.just(ProviderError("busy", status=503)),
        st.just(ProviderError("flaky")),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    rpm=st.integers(1, 6),
    concurrency=st.integers(1, 6),
    count=st.integers(1, 25),
    script=answers,
    adaptive=st.booleans(),
)
def test_no_60_second_window_holds_more_than_requests_per_minute(
    rpm: int, concurrency: int, count: int, script: list[Any], adaptive: bool
) -> None:
    clock = ManualClock()
    sent: list[float] = []

    def answer(_request: GenerationRequest) -> Any:
        sent.append(clock.now())
        return script[(len(sent) - 1) % len(script)]

    spec = ProviderSpec(
        kind="scripted", requests_per_minute=rpm, concurrency=concurrency, adaptive=adaptive, breaker_failures=1000
    )
    policy = make_policy(
        ScriptedProvider(answer), spec, parts=1, classify=classify_error, emit=lambda _e: None, clock=clock
    )
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await policy.generate(GenerationRequest((Message("user", "q"),)))
            outcomes.append("answer")
        except ProviderUnavailable:
            outcomes.append("unavailable")

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)

    anyio.run(main)
    assert len(outcomes) == count  # every request ends: an answer or a clear give-up
    for start in sent:
        assert sum(1 for at in sent if start <= at < start + 60.0) <= rpm
