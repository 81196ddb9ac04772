"""The call policy around a provider: retries that are not attempts, holds, failover, abort, breaker, health."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from destilation.config import ModelLimits, ProviderSpec
from destilation.defaults import classify_error
from destilation.domain import Circuit, Event, Generation, GenerationRequest, Message, Usage
from destilation.interfaces import Provider, ProviderError, ProviderInfo
from destilation.policy import (
    ErrorAction,
    ManualClock,
    ProviderAborted,
    ProviderPolicy,
    ProviderUnavailable,
    make_policy,
)
from destilation.policy.adaptive import START
from destilation.policy.lanes import estimate_tokens
from destilation.policy.paced import PROBE_PROMPT
from destilation.testing import ScriptedProvider

pytestmark = pytest.mark.anyio

REQUEST = GenerationRequest((Message("user", "Write one question."),), max_tokens=100)


def build(
    provider: Provider,
    *,
    clock: Any = None,
    jitter: float = 0.0,
    classify: Callable[[BaseException, str], str | None] = classify_error,
    estimate_cost: Callable[[str, str, Usage], float | None] = lambda *_: 0.0,
    parts: int = 1,
    **spec: Any,
) -> tuple[ProviderPolicy, list[Event]]:
    events: list[Event] = []
    policy = ProviderPolicy(
        provider,
        ProviderSpec(kind="scripted", **spec),
        parts=parts,
        classify=classify,
        emit=events.append,
        estimate_cost=estimate_cost,
        clock=clock or ManualClock(),
        job="job-1",
        jitter=lambda: jitter,
    )
    return policy, events


def answer(text: str = "ok", model: str = "scripted-1", **keys: Any) -> Generation:
    return Generation(text, "scripted", model, **keys)


class Held(Provider):
    """A provider whose calls wait until the test lets them answer (or fail)."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.calls = 0
        self.fail: BaseException | None = None

    def info(self) -> ProviderInfo:
        return ProviderInfo("held", "held", "held-1")

    async def models(self) -> list[str]:
        return ["held-1"]

    async def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return Generation("ok", "held", "held-1", latency_s=0.0)


# -- transport retries ----------------------------------------------------------------------------


async def test_provider_failures_are_retried_inside_one_call_and_counted_for_health() -> None:
    clock = ManualClock()
    provider = ScriptedProvider(
        [ProviderError("slow down", status=429, retry_after=2.0), ProviderError("upstream", status=502), answer()]
    )
    policy, events = build(provider, clock=clock, jitter=1.0)
    assert (await policy.generate(REQUEST)).text == "ok"
    assert len(provider.requests) == 3 and all(r == REQUEST for r in provider.requests)  # the same request again
    assert clock.now() == 2.0 + 2.0  # the Retry-After, then the second failure's backoff, 0.5 * 2**2 (jitter 1)
    health = policy.health("job-1", "owner-a")
    assert (health.requests, health.successes, health.retries, health.failovers) == (3, 1, 2, 0)
    assert health.errors == {"rate_limited": 1, "server": 1}
    assert health.last_error == "upstream"
    assert [e.kind for e in events] == ["provider_backoff", "concurrency_changed"]
    assert events[0].job == "job-1" and events[0].provider == "scripted"


async def test_spent_retries_give_the_request_up_with_the_last_error() -> None:
    clock = ManualClock()
    provider = ScriptedProvider(lambda _r: ProviderError("teacher: HTTP 502 bad gateway", status=502))
    policy, _ = build(provider, clock=clock, jitter=1.0, max_retries=3)
    with pytest.raises(ProviderUnavailable, match=r"^provider scripted: gave up after 4 tries: teacher: HTTP 502"):
        await policy.generate(REQUEST)
    assert len(provider.requests) == 4
    assert clock.now() == 1.0 + 2.0 + 4.0  # full-jitter backoff doubling (jitter pinned at its top)
    assert (policy.stats.retries, policy.stats.failovers) == (3, 1)


async def test_the_backoff_is_capped() -> None:
    clock = ManualClock()
    provider = ScriptedProvider(lambda _r: ProviderError("down"))
    policy, _ = build(provider, clock=clock, jitter=1.0, max_retries=8, breaker_failures=100)
    with pytest.raises(ProviderUnavailable):
        await policy.generate(REQUEST)
    assert clock.now() == 1 + 2 + 4 + 8 + 16 + 30 + 30 + 30


async def test_a_request_this_provider_will_not_serve_fails_over_at_once() -> None:
    provider = ScriptedProvider([ProviderError("no such model", retryable=False, status=404)])
    policy, _ = build(provider)
    with pytest.raises(ProviderUnavailable, match="will not serve this request: no such model") as caught:
        await policy.generate(REQUEST)
    assert caught.value.retryable and caught.value.refused and len(provider.requests) == 1
    assert policy.health("j", "o").failovers == 1


async def test_refusals_do_not_open_the_circuit() -> None:
    """A server that answers "not this request" is up: the engine rejects the task, nobody waits for it."""
    script: list[Any] = [ProviderError("no such model", retryable=False, status=404)] * 4
    policy, _ = build(ScriptedProvider(script), breaker_failures=2)
    for _ in range(4):
        with pytest.raises(ProviderUnavailable) as caught:
            await policy.generate(REQUEST)
        assert caught.value.refused
    assert policy.available() and policy.health("j", "o").circuit is Circuit.CLOSED


async def test_a_bad_key_aborts_with_one_line_naming_the_provider() -> None:
    key = "sk-or-v1-" + "a1b2c3d4" * 6
    provider = ScriptedProvider([ProviderError(f"scripted: invalid key {key}", retryable=False, status=401)])
    policy, _ = build(provider)
    with pytest.raises(ProviderAborted) as caught:
        await policy.generate(REQUEST)
    message = str(caught.value)
    assert message.startswith("provider scripted: HTTP 401: invalid key ") and message.endswith("(check its api_key)")
    assert key not in message and "\n" not in message
    assert (caught.value.retryable, caught.value.status) == (False, 401)
    assert policy.health("j", "o").errors == {"auth": 1}
    assert not policy.available()
    with pytest.raises(ProviderAborted, match=r"^provider scripted: HTTP 401"):  # nothing more is sent
        await policy.generate(REQUEST)
    assert len(provider.requests) == 1


async def test_a_plugin_may_answer_plain_strings_and_an_unknown_one_retries_with_one_warning() -> None:
    provider = ScriptedProvider([RuntimeError("a"), RuntimeError("b"), answer()])
    policy, events = build(provider, classify=lambda _e, _p: "shrug")
    assert (await policy.generate(REQUEST)).text == "ok"
    assert [(e.kind, e.severity) for e in events] == [("classify_error_unknown", "warning")]
    assert "'shrug'" in events[0].message

    failover, _ = build(ScriptedProvider([ProviderError("x")]), classify=lambda _e, _p: "failover")
    with pytest.raises(ProviderUnavailable):
        await failover.generate(REQUEST)


# -- deadline -------------------------------------------------------------------------------------


async def test_no_retry_is_sent_past_the_deadline() -> None:
    clock = ManualClock()
    provider = ScriptedProvider(lambda _r: ProviderError("down", status=500))
    policy, _ = build(provider, clock=clock, jitter=1.0, deadline_s=2.5)
    with pytest.raises(ProviderUnavailable, match="no answer within its deadline: down"):
        await policy.generate(REQUEST)
    assert len(provider.requests) == 2 and clock.now() == 1.0  # the next backoff (2 s) would end past 2.5


async def test_a_call_that_hangs_past_the_deadline_is_cancelled() -> None:
    provider = Held()
    policy, _ = build(provider, clock=_system(), deadline_s=0.05)
    with pytest.raises(ProviderUnavailable, match="no answer within its deadline: no answer within deadline_s"):
        await policy.generate(REQUEST)
    health = policy.health("j", "o")
    assert health.errors == {"timeout": 1} and health.in_flight == 0


async def test_a_hold_longer_than_the_deadline_gives_requests_up_at_once() -> None:
    clock = ManualClock()
    provider = ScriptedProvider([ProviderError("quota", status=429, retry_after=3600.0)])
    policy, _ = build(provider, clock=clock, deadline_s=600.0)
    with pytest.raises(ProviderUnavailable, match="held back past the request's deadline"):
        await policy.generate(REQUEST)
    with pytest.raises(ProviderUnavailable, match="held back"):  # a new request does not wait an hour either
        await policy.generate(REQUEST)
    assert len(provider.requests) == 1 and clock.now() == 0.0
    assert not policy.available()  # the router should send its tasks elsewhere
    held_until = policy.health("j", "o").held_until
    assert held_until == clock.wall() + 3600.0


async def test_a_retry_that_the_rate_limit_would_push_past_the_deadline_gives_up() -> None:
    clock = ManualClock()
    provider = ScriptedProvider([ProviderError("flaky"), answer()])
    policy, _ = build(provider, clock=clock, requests_per_minute=1, deadline_s=10.0)
    with pytest.raises(ProviderUnavailable, match="rate limits leave no room"):
        await policy.generate(REQUEST)
    assert len(provider.requests) == 1


# -- holds and pacing -----------------------------------------------------------------------------


async def test_retry_after_holds_back_every_request_of_the_provider() -> None:
    clock = _system()
    failed = anyio.Event()
    sent: dict[str, float] = {}

    def script(request: GenerationRequest) -> Any:
        label = request.messages[0].content
        sent.setdefault(label, clock.now())
        if label == "first" and not failed.is_set():
            failed.set()
            return ProviderError("slow down", status=429, retry_after=0.2)
        sent[f"{label} again"] = clock.now()
        return "ok"

    policy, _ = build(ScriptedProvider(script), clock=clock)

    async def other() -> None:
        await failed.wait()
        await policy.generate(GenerationRequest((Message("user", "second"),)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        tg.start_soon(policy.generate, GenerationRequest((Message("user", "first"),)))
    # "second" never had a 429 itself, yet it waited for the provider's hold to end.
    assert sent["second"] >= sent["first"] + 0.2
    assert sent["first again"] >= sent["first"] + 0.2


async def test_a_backoff_without_retry_after_holds_the_provider_for_a_growing_jittered_time() -> None:
    clock = ManualClock()
    provider = ScriptedProvider([ProviderError("busy", status=503)] * 2 + [answer()])
    policy, events = build(provider, clock=clock, jitter=1.0)
    assert (await policy.generate(REQUEST)).text == "ok"
    assert clock.now() == 1.0 + 2.0  # one episode after another: 0.5 * 2, then 0.5 * 4
    assert [e.kind for e in events].count("provider_backoff") == 2


async def test_overloads_during_a_hold_do_not_extend_it() -> None:
    clock = ManualClock()
    provider = Held()
    policy, events = build(provider, clock=clock, jitter=1.0, max_retries=0)
    provider.fail = ProviderError("busy", status=503)
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(_swallow, policy.generate(REQUEST))
        await anyio.wait_all_tasks_blocked()
        provider.release.set()  # three requests in flight come back 503 together
    assert [e.kind for e in events].count("provider_backoff") == 1
    assert policy.health("j", "o").errors == {"server": 3}


async def test_requests_per_minute_are_never_exceeded_however_many_wait() -> None:
    clock = ManualClock()
    sent: list[float] = []
    provider = ScriptedProvider(lambda _r: sent.append(clock.now()) or "ok")
    policy, _ = build(provider, clock=clock, requests_per_minute=5, concurrency=8)
    async with anyio.create_task_group() as tg:
        for _ in range(23):
            tg.start_soon(policy.generate, REQUEST)
    assert len(sent) == 23
    for start in sent:
        assert sum(1 for at in sent if start <= at < start + 60) <= 5
    assert max(sent) <= 4 * 61.0  # and no minute is wasted: 5 per window


async def test_each_process_takes_its_share_of_the_rate() -> None:
    clock = ManualClock()
    policy, _ = build(ScriptedProvider(lambda _r: "ok"), clock=clock, requests_per_minute=10, parts=3)
    for _ in range(4):
        await policy.generate(REQUEST)
    assert clock.now() == 61.0  # 3 a minute here (10 // 3), so 3 processes send at most 9


async def test_tokens_per_minute_count_the_estimate_then_what_was_reported() -> None:
    clock = ManualClock()
    reported = ScriptedProvider(lambda _r: answer(usage=Usage(40, 20)))
    policy, _ = build(reported, clock=clock, tokens_per_minute=1000)
    for _ in range(10):  # each is guessed at ~105 tokens, then counted as the 60 it took
        await policy.generate(REQUEST)
    assert clock.now() == 0.0
    await policy.generate(GenerationRequest((Message("user", "x" * 404),), max_tokens=300))  # 401 > 1000 - 600
    assert clock.now() == 61.0

    clock = ManualClock()
    silent = ScriptedProvider(lambda _r: answer(usage=Usage()))
    policy, _ = build(silent, clock=clock, tokens_per_minute=250)
    for _ in range(3):  # no usage reported: the estimate (105) stays
        await policy.generate(REQUEST)
    assert clock.now() == 61.0


async def test_model_limits_apply_to_their_model_on_top_of_the_providers() -> None:
    clock = ManualClock()
    sent: list[tuple[str | None, float]] = []
    provider = ScriptedProvider(lambda r: sent.append((r.model, clock.now())) or "ok")
    limits = {"big": ModelLimits(requests_per_minute=1, concurrency=1, tokens_per_minute=10**6)}
    policy, _ = build(provider, clock=clock, model_limits=limits, model="small")
    big = GenerationRequest(REQUEST.messages, model="big")
    await policy.generate(big)
    await policy.generate(REQUEST)  # the provider's default model has no limit of its own
    await policy.generate(big)
    await policy.generate(REQUEST)
    assert sent == [("big", 0.0), (None, 0.0), ("big", 61.0), (None, 61.0)]


# -- adaptive concurrency -------------------------------------------------------------------------


async def test_overloads_lower_the_concurrency_limit_and_answers_raise_it_again() -> None:
    clock = ManualClock()
    script: list[Any] = [answer()] * 12 + [ProviderError("slow", status=429, retry_after=1.0)] + [answer()] * 3
    policy, events = build(ScriptedProvider(script), clock=clock, concurrency=32)
    assert policy.health("j", "o").concurrency_limit == START
    for _ in range(12):
        await policy.generate(REQUEST)
    assert policy.health("j", "o").concurrency_limit == START + 12
    await policy.generate(REQUEST)
    assert policy.health("j", "o").concurrency_limit == (START + 13) // 2
    changed = [e for e in events if e.kind == "concurrency_changed"]
    assert len(changed) == 1 and changed[0].data == {"limit": (START + 13) // 2}


async def test_a_fixed_concurrency_is_held_exactly() -> None:
    provider = Held()
    policy, _ = build(provider, concurrency=3, adaptive=False)
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(policy.generate, REQUEST)
        await anyio.wait_all_tasks_blocked()
        assert provider.calls == 3 and policy.health("j", "o").in_flight == 3
        provider.release.set()
    assert provider.calls == 5


async def test_latency_that_climbs_well_above_its_floor_lowers_the_limit() -> None:
    clock = ManualClock()
    latencies = iter([0.1] * 30 + [5.0] * 10)

    class Queueing(ScriptedProvider):
        async def generate(self, request: GenerationRequest) -> Generation:
            await clock.sleep(next(latencies))
            return answer()

    policy, events = build(Queueing([]), clock=clock, concurrency=64)
    for _ in range(40):
        await policy.generate(REQUEST)
    assert any(e.kind == "concurrency_changed" and "latency" in e.message for e in events)


# -- circuit breaker ------------------------------------------------------------------------------


async def test_the_circuit_opens_after_failures_in_a_row_and_a_half_open_trial_closes_it() -> None:
    clock = ManualClock()
    script: list[Any] = [ProviderError("down", status=500)] * 3 + [answer()]
    provider = ScriptedProvider(script)
    policy, events = build(provider, clock=clock, breaker_failures=3, breaker_cooldown_s=30.0, max_retries=8)
    with pytest.raises(ProviderUnavailable, match="its circuit is open: down") as caught:
        await policy.generate(REQUEST)
    assert len(provider.requests) == 3 and not policy.available() and not caught.value.refused
    assert policy.health("j", "o").circuit is Circuit.OPEN
    with pytest.raises(ProviderUnavailable, match="circuit is open"):  # at once, nothing sent
        await policy.generate(REQUEST)
    assert len(provider.requests) == 3
    clock.advance(30.0)
    assert policy.available() and policy.health("j", "o").circuit is Circuit.HALF_OPEN
    assert (await policy.generate(REQUEST)).text == "ok"  # the trial
    assert policy.available() and policy.health("j", "o").circuit is Circuit.CLOSED
    assert [e.kind for e in events if e.kind.startswith("circuit")] == ["circuit_open", "circuit_closed"]


async def test_rate_limits_do_not_open_the_circuit() -> None:
    script: list[Any] = [ProviderError("slow", status=429, retry_after=0.0)] * 6 + [answer()]
    policy, _ = build(ScriptedProvider(script), breaker_failures=2)
    assert (await policy.generate(REQUEST)).text == "ok"
    assert policy.available()


async def test_only_one_trial_goes_while_half_open() -> None:
    clock = ManualClock()
    provider = Held()
    policy, _ = build(provider, clock=clock, breaker_failures=1, breaker_cooldown_s=5.0, max_retries=0)
    provider.fail = ProviderError("down", status=500)
    provider.release.set()
    with pytest.raises(ProviderUnavailable):
        await policy.generate(REQUEST)
    clock.advance(5.0)
    provider.fail, provider.release = None, anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(policy.generate, REQUEST)  # the trial
        await anyio.wait_all_tasks_blocked()
        assert not policy.available()
        with pytest.raises(ProviderUnavailable, match="circuit is open"):
            await policy.generate(REQUEST)
        provider.release.set()
    assert policy.available() and provider.calls == 2


async def test_a_cancelled_trial_lets_the_next_request_try() -> None:
    clock = ManualClock()
    provider = Held()
    policy, _ = build(provider, clock=clock, breaker_failures=1, breaker_cooldown_s=5.0, max_retries=0)
    provider.fail = ProviderError("down", status=500)
    provider.release.set()
    with pytest.raises(ProviderUnavailable):
        await policy.generate(REQUEST)
    clock.advance(5.0)
    provider.release = anyio.Event()
    with anyio.move_on_after(0.01):
        await policy.generate(REQUEST)
    assert policy.available()


async def test_a_probe_closes_an_open_circuit_with_one_small_request() -> None:
    clock = ManualClock()
    script: list[Any] = [ProviderError("down", status=500), ProviderError("still down", status=500), answer()]
    provider = ScriptedProvider(script)
    policy, events = build(provider, clock=clock, breaker_failures=1, breaker_cooldown_s=30.0, model="m-1")
    with pytest.raises(ProviderUnavailable):
        await policy.generate(REQUEST)
    clock.advance(20.0)
    assert not await policy.probe()  # failed: another cool-down from now
    clock.advance(20.0)
    assert not policy.available()
    assert await policy.probe()
    assert policy.available()
    probe = provider.requests[-1]
    assert (probe.max_tokens, probe.model, len(probe.messages)) == (1, "m-1", 1)
    assert policy.health("j", "o").requests == 3
    assert [e.kind for e in events if e.kind.startswith("circuit")] == ["circuit_open", "circuit_closed"]


async def test_a_probe_that_meets_a_bad_key_stops_the_job() -> None:
    policy, _ = build(ScriptedProvider([ProviderError("bad key", status=403)]))
    with pytest.raises(ProviderAborted, match="check its api_key"):
        await policy.probe()


async def test_a_probe_counts_in_the_rate_windows_and_is_no_failover() -> None:
    probe = GenerationRequest((Message("user", PROBE_PROMPT),), max_tokens=1)
    policy, _ = build(ScriptedProvider([answer()]), requests_per_minute=1, tokens_per_minute=100)
    assert await policy.probe()
    assert policy._lane.requests[0].spent(0.0) == 1
    assert policy._lane.tokens[0].spent(0.0) == estimate_tokens(probe)  # a probe reports no usage

    held, _ = build(ScriptedProvider([ProviderError("later", status=429, retry_after=10_000.0)]))
    with pytest.raises(ProviderUnavailable):
        await held.generate(REQUEST)
    assert not await held.probe()
    assert held.health("j", "o").failovers == 1  # the request, not the probe that could not go


# -- health ---------------------------------------------------------------------------------------


async def test_health_reports_tokens_cost_latency_and_the_providers_details() -> None:
    clock = ManualClock()

    class Timed(ScriptedProvider):
        def health_details(self) -> dict[str, Any]:
            return {"structured_output": "json_object"}

        async def generate(self, request: GenerationRequest) -> Generation:
            await clock.sleep(float(len(self.requests) + 1))
            return await super().generate(request)

    script = [answer(usage=Usage(10, 5), cost=0.25), answer(model="other", usage=Usage(20, 10)), answer()]
    priced: list[tuple[str, str, Usage]] = []
    policy, _ = build(
        Timed(script),
        clock=clock,
        estimate_cost=lambda p, m, u: priced.append((p, m, u)) or (0.5 if m == "other" else None),
    )
    for _ in range(3):
        await policy.generate(REQUEST)
    health = policy.health("job-1", "owner-a")
    assert (health.job, health.provider, health.owner, health.model) == ("job-1", "scripted", "owner-a", "scripted-1")
    assert (health.prompt_tokens, health.completion_tokens) == (30, 15)
    assert health.cost == 0.75  # the reported cost, else the estimate (None counts as free)
    assert [m for _, m, _ in priced] == ["other", "scripted-1"]
    assert (health.latency_p50_s, health.latency_p95_s) == (2.0, 3.0)
    assert health.details == {"structured_output": "json_object"}
    assert health.held_until is None and health.updated_at == clock.wall()


async def test_make_policy_builds_the_paced_policy_with_its_share() -> None:
    provider = ScriptedProvider([answer()])
    spec = ProviderSpec(kind="scripted", concurrency=10, adaptive=False)
    policy = make_policy(provider, spec, parts=3, classify=classify_error, emit=lambda _e: None)
    assert isinstance(policy, ProviderPolicy) and policy.name == "scripted"
    assert policy.health("j", "o").concurrency_limit == 4
    assert (await policy.generate(REQUEST)).text == "ok"
    assert ErrorAction("backoff") is ErrorAction.BACKOFF


def _system() -> Any:
    from destilation.policy import SystemClock

    return SystemClock()


async def _swallow(call: Any) -> None:
    with contextlib.suppress(ProviderError):
        await call
