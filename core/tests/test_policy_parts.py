"""The policy's small parts: slots, adaptive concurrency, the breaker, error classes, counters, lanes."""

from __future__ import annotations

import math
import random

import anyio
import httpx
import pytest

from destilation.config import ModelLimits, ProviderSpec
from destilation.domain import Circuit, GenerationRequest, Message
from destilation.interfaces import ProviderError
from destilation.policy import ErrorAction, ManualClock, SystemClock
from destilation.policy.adaptive import START, WARM_UP, AdaptiveLimit
from destilation.policy.breaker import Breaker
from destilation.policy.classes import abort_message, as_action, default_action, error_class, one_line
from destilation.policy.lanes import (
    COMPLETION_GUESS,
    UNLIMITED,
    concurrency_share,
    estimate_tokens,
    model_lane,
    provider_lane,
    rate_share,
)
from destilation.policy.slots import Slots
from destilation.policy.stats import LatencyRing

# -- slots ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_slots_serve_waiters_in_order_and_grow_and_shrink_while_held() -> None:
    slots = Slots(1)
    order: list[int] = []

    async def holder(number: int) -> None:
        async with slots:
            order.append(number)
            await anyio.sleep(0.01)

    await slots.acquire()
    async with anyio.create_task_group() as tg:
        for number in range(3):
            tg.start_soon(holder, number)
        await anyio.wait_all_tasks_blocked()
        assert (slots.used, slots.waiting) == (1, 3)
        slots.resize(3)  # two waiters get in at once
        assert (slots.used, slots.waiting) == (3, 1)
        slots.resize(0)  # never below 1; shrinking waits for holders to leave
        assert slots.limit == 1
        slots.release()
    assert order == [0, 1, 2]
    assert slots.used == 0


@pytest.mark.anyio
async def test_a_cancelled_waiter_leaves_the_queue_or_gives_its_slot_on() -> None:
    slots = Slots(1)
    await slots.acquire()
    with anyio.move_on_after(0.01):
        await slots.acquire()  # never served: it leaves the queue
    assert slots.waiting == 0

    got: list[str] = []

    async def waiter(name: str) -> None:
        async with slots:
            got.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, "first")
        tg.start_soon(waiter, "second")
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
        slots.release()  # hands the slot to "first", which is cancelled before it runs: "second" gets it
    assert slots.used == 0


# -- adaptive concurrency -------------------------------------------------------------------------


def test_the_limit_ramps_up_fast_then_slowly_and_never_past_the_ceiling() -> None:
    assert AdaptiveLimit(500).limit == 62  # an eighth of a large ceiling: fewer round trips to reach it
    assert AdaptiveLimit(3).limit == 3
    limit = AdaptiveLimit(32)
    assert limit.limit == START
    for _ in range(10):
        limit.success(0.1, 0.0)
    assert limit.limit == START + 10  # one more per answer while ramping
    assert limit.overload(100.0)
    assert limit.limit == (START + 10) // 2 and not limit.ramping
    before = limit.limit
    for _ in range(before + 1):
        limit.success(0.1, 100.0)
    assert limit.limit == before + 1  # about one more per round trip after a cut
    for _ in range(1000):
        limit.success(0.1, 100.0)
    assert limit.limit == 32


def test_a_burst_of_overloads_cuts_once_per_round_trip_and_never_below_one() -> None:
    limit = AdaptiveLimit(64)
    for _ in range(60):
        limit.success(0.1, 0.0)
    assert limit.limit == 64
    assert limit.overload(10.0)
    assert not limit.overload(10.5)  # answers already in flight when the first 429 came
    assert limit.limit == 32
    for second in range(11, 30):
        limit.overload(float(second))
    assert limit.limit == 1


def test_latency_well_above_its_floor_cuts_the_limit() -> None:
    limit = AdaptiveLimit(32)
    for _ in range(WARM_UP + 20):
        assert limit.success(0.2, 0.0) is None
    assert limit.limit == 32
    reasons = [limit.success(2.0, 50.0) for _ in range(10)]
    assert "latency" in reasons
    assert limit.limit == 24


def test_the_spread_of_answer_lengths_is_not_taken_for_load_but_a_queue_is() -> None:
    draw = random.Random(7)
    spread = AdaptiveLimit(64)
    now = 0.0
    for _ in range(5000):  # median 2 s, one answer in forty over 10 s: nothing queues
        now += 0.05
        assert spread.success(2.0 * math.exp(draw.gauss(0.0, 0.8)), now) is None
    queueing = AdaptiveLimit(64)
    for _ in range(300):
        now += 0.05
        queueing.success(2.0 * math.exp(draw.gauss(0.0, 0.8)), now)
    noticed = None
    for answer in range(40):  # the server queues: every answer waits 6 s more
        now += 0.05
        if queueing.success(6.0 + 2.0 * math.exp(draw.gauss(0.0, 0.8)), now) == "latency":
            noticed = answer
            break
    assert noticed is not None


def test_a_fixed_limit_does_not_move() -> None:
    limit = AdaptiveLimit(8, adaptive=False)
    assert limit.limit == 8
    assert limit.success(30.0, 0.0) is None
    assert not limit.overload(5.0)
    assert limit.limit == 8


# -- circuit breaker ------------------------------------------------------------------------------


def test_the_breaker_opens_after_failures_in_a_row_and_half_opens_after_its_cool_down() -> None:
    breaker = Breaker(3, 30.0)
    assert not breaker.failure(0.0) and not breaker.failure(1.0)
    assert not breaker.success()  # a success in between starts the count again
    assert [breaker.failure(t) for t in (2.0, 3.0, 4.0)] == [False, False, True]
    assert breaker.state(10.0) is Circuit.OPEN
    assert breaker.state(34.0) is Circuit.HALF_OPEN
    assert not breaker.failure(34.0)  # the trial failed: another cool-down from now
    assert breaker.state(50.0) is Circuit.OPEN
    assert breaker.state(64.0) is Circuit.HALF_OPEN
    assert breaker.success()
    assert breaker.state(64.0) is Circuit.CLOSED


# -- error classes and actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "action", "kind"),
    [
        (ProviderError("bad key", retryable=False, status=401), ErrorAction.ABORT, "auth"),
        (ProviderError("no credits", status=402), ErrorAction.ABORT, "auth"),
        (ProviderError("flagged", retryable=False, status=403), ErrorAction.ABORT, "auth"),
        (ProviderError("slow down", status=429), ErrorAction.BACKOFF, "rate_limited"),
        (ProviderError("overloaded", status=503), ErrorAction.BACKOFF, "server"),
        (ProviderError("overloaded", status=529), ErrorAction.BACKOFF, "server"),
        (ProviderError("later", retry_after=2.0), ErrorAction.BACKOFF, "other"),
        (ProviderError("upstream", status=502), ErrorAction.RETRY, "server"),
        (ProviderError("gateway", status=504), ErrorAction.RETRY, "timeout"),
        (ProviderError("bad request", retryable=False, status=400), ErrorAction.FAILOVER, "refused"),
        (ProviderError("no such model", retryable=False, status=404), ErrorAction.FAILOVER, "refused"),
        (ProviderError("cannot encode", retryable=False), ErrorAction.FAILOVER, "other"),
        (ProviderError("the program cannot start", retryable=False, fatal=True), ErrorAction.ABORT, "other"),
        (RuntimeError("a bug"), ErrorAction.RETRY, "other"),
        (TimeoutError("slow"), ErrorAction.RETRY, "timeout"),
        (ConnectionResetError("reset"), ErrorAction.RETRY, "transport"),
    ],
)
def test_default_actions_and_error_classes(error: BaseException, action: ErrorAction, kind: str) -> None:
    assert default_action(error) is action
    assert error_class(error) == kind


def test_a_wrapped_transport_error_is_classed_by_what_it_was_raised_during() -> None:
    def wrapped(cause: BaseException) -> ProviderError:
        try:
            raise cause
        except Exception:
            try:
                raise ProviderError("teacher: request failed") from None  # as providers do
            except ProviderError as exc:
                return exc

    assert error_class(wrapped(httpx.ReadTimeout("read"))) == "timeout"
    assert error_class(wrapped(httpx.ConnectError("refused"))) == "transport"
    loop = ProviderError("loop")
    loop.__context__ = loop
    assert error_class(loop) == "other"


def test_hook_answers_become_actions_and_anything_else_is_none() -> None:
    assert as_action("failover") is ErrorAction.FAILOVER
    assert as_action(ErrorAction.ABORT) is ErrorAction.ABORT
    assert as_action("give up") is None
    assert as_action(None) is None


def test_errors_become_one_redacted_line_without_the_name_twice() -> None:
    error = ProviderError("teacher: HTTP 500:\n  body   with Authorization: Bearer sk-or-v1-abcdef0123456789abcdef")
    line = one_line(error, "teacher")
    assert line.startswith("HTTP 500: body with") and "abcdef0123456789" not in line and "\n" not in line
    assert one_line(RuntimeError(), "teacher") == "RuntimeError"
    assert len(one_line(ProviderError("x" * 1000), "teacher")) == 300


def test_abort_messages_name_the_provider_and_what_to_check() -> None:
    bad_key = ProviderError("teacher: invalid key", retryable=False, status=401)
    assert abort_message(bad_key, "teacher") == "provider teacher: HTTP 401: invalid key (check its api_key)"
    credits = ProviderError("HTTP 402: insufficient credits", status=402)
    assert abort_message(credits, "teacher") == "provider teacher: HTTP 402: insufficient credits (check its credits)"
    assert abort_message(RuntimeError("no"), "teacher") == "provider teacher: no"


# -- counters, lanes, clocks ----------------------------------------------------------------------


def test_latency_percentiles_come_from_the_recent_window_only() -> None:
    ring = LatencyRing(size=4)
    assert ring.percentile(0.5) is None
    for value in (9.0, 9.0, 9.0, 9.0, 1.0, 2.0, 3.0, 4.0):
        ring.add(value)
    assert (ring.percentile(0.5), ring.percentile(0.95)) == (2.0, 4.0)


def test_each_process_takes_its_share_rates_rounded_down() -> None:
    assert [concurrency_share(16, parts) for parts in (1, 3, 20)] == [16, 6, 1]
    assert [rate_share(10, parts) for parts in (1, 3, 20)] == [10, 3, 1]  # 3 processes send 9 a minute, not 12


def test_lanes_add_a_models_limits_to_the_providers() -> None:
    spec = ProviderSpec(kind="mock", concurrency=8, requests_per_minute=100, tokens_per_minute=9000)
    base = provider_lane(spec, parts=2)
    assert [w.limit for w in base.requests] == [50] and [w.limit for w in base.tokens] == [4500]
    assert base.slots is UNLIMITED and base.paced
    lane = model_lane(base, ModelLimits(concurrency=3, requests_per_minute=7), parts=2)
    assert isinstance(lane.slots, Slots) and lane.slots.limit == 2
    assert [w.limit for w in lane.requests] == [50, 3] and len(lane.tokens) == 1
    assert not provider_lane(ProviderSpec(kind="mock"), 1).paced


def test_a_token_estimate_is_the_prompt_by_four_plus_the_answer() -> None:
    messages = (Message("system", "s" * 40), Message("user", "u" * 40, reasoning="r" * 20))
    assert estimate_tokens(GenerationRequest(messages, max_tokens=50)) == 25 + 50
    assert estimate_tokens(GenerationRequest(messages)) == 25 + COMPLETION_GUESS


@pytest.mark.anyio
async def test_clocks() -> None:
    manual = ManualClock(start=5.0, epoch=1000.0)
    await manual.sleep(10.0)
    manual.advance(1.0)
    manual.advance(-3.0)  # time never goes back
    assert (manual.now(), manual.wall()) == (16.0, 1016.0)
    system = SystemClock()
    before = system.now()
    await system.sleep(0.001)
    assert system.now() > before and system.wall() > 1.7e9
