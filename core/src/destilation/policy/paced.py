"""The call policy of one provider: transport retries, pacing, adaptive concurrency, a breaker.

A request takes a concurrency slot (adaptive, and its model's if `model_limits` names it), then
passes the pacing gate (the provider's hold, requests and tokens per minute), and only then
goes out, so the time a request is counted at is the time it is sent. A failure is classified
(`classify_error`): RETRY sleeps a jittered backoff, BACKOFF holds the whole provider (its
`Retry-After`, else backoff), FAILOVER and spent retries or deadline raise `ProviderUnavailable`,
ABORT raises `ProviderAborted`. None of it is a task attempt: the engine sees one answer or one
of those two exceptions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import anyio

from destilation.config import ProviderSpec
from destilation.domain import JSON, Circuit, Event, Generation, GenerationRequest, Message, ProviderHealth, Usage
from destilation.interfaces import Provider
from destilation.policy.actions import ErrorAction, ProviderAborted, ProviderUnavailable
from destilation.policy.adaptive import AdaptiveLimit
from destilation.policy.breaker import Breaker
from destilation.policy.classes import abort_message, as_action, error_class, one_line
from destilation.policy.clock import Clock, SystemClock
from destilation.policy.contract import CallPolicy, Classify, Emit, EstimateCost
from destilation.policy.lanes import Lane, concurrency_share, estimate_tokens, model_lane, provider_lane
from destilation.policy.shares import Share
from destilation.policy.slots import Slots
from destilation.policy.stats import Counters
from destilation.policy.window import RateWindow, Spend

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
"""Full-jitter backoff: a random wait in [0, min(cap, base * 2**n)) before try n + 1."""
PROBE_PROMPT = "Reply with the word OK."
Spends = Sequence[tuple[RateWindow, Spend]]
"""Where a request's token estimate was counted, to correct it once the usage is known."""
NOT_BREAKER_FAILURES = frozenset({"rate_limited", "auth"})
"""A 429 is pacing, not sickness (backoff handles it); auth failures stop the job anyway."""
PEER_HOLD_SLACK_S = 0.05
"""Another process's hold is taken when it ends later than this one's by more than this (clocks
and conversions jitter a little: the same hold read again is not a new one)."""


def free(_provider: str, _model: str, _usage: Usage) -> float:
    return 0.0


class _NoRoom(Exception):
    """The pacing gate cannot let a request through before its deadline (the reason is the message)."""


class ProviderPolicy(CallPolicy):
    """The policy of one provider in one process (see the module docstring)."""

    def __init__(
        self,
        provider: Provider,
        spec: ProviderSpec,
        *,
        parts: int,
        classify: Classify,
        emit: Emit,
        estimate_cost: EstimateCost = free,
        clock: Clock | None = None,
        job: str = "",
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.provider = provider
        info = self.info = provider.info()
        self.name = info.name
        self._model = spec.model or info.model
        self._spec = spec
        self._classify = classify
        self._emit = emit
        self._estimate_cost = estimate_cost
        self._clock: Clock = clock or SystemClock()
        self._job = job
        self._jitter = jitter
        self._adaptive = AdaptiveLimit(concurrency_share(spec.concurrency, parts), adaptive=spec.adaptive)
        self._slots = Slots(self._adaptive.limit)
        self._lane = provider_lane(spec, parts)
        self._lanes = {model: model_lane(self._lane, limits, parts) for model, limits in spec.model_limits.items()}
        now = self._clock.now()
        windows = {id(w): w for lane in (self._lane, *self._lanes.values()) for w in (*lane.requests, *lane.tokens)}
        self._shares = [Share(window, now) for window in windows.values()]
        self._model_slots = [
            (lane.slots, limits.concurrency)
            for lane, limits in zip(self._lanes.values(), spec.model_limits.values(), strict=True)
            if isinstance(lane.slots, Slots) and limits.concurrency is not None
        ]
        self._parts = parts
        self._peer_circuits: dict[str, Circuit] = {}
        """The circuit each other process's row showed last: only a newly opened one is followed."""
        self._settling: anyio.Event | None = None
        """Set while the job's other processes are not known yet: paced requests wait (`expect_peers`)."""
        self._counts_tokens = bool(self._lane.tokens) or any(lane.tokens for lane in self._lanes.values())
        self._gate = anyio.Lock()
        self._hold_until = 0.0
        self._backoffs = 0
        self._breaker = Breaker(spec.breaker_failures, spec.breaker_cooldown_s)
        self._in_flight = 0
        self._unknown: set[str] = set()
        self._aborted: str | None = None
        """Why the job must stop, once a failure said so: no request goes out after it."""
        self.stats = Counters()

    def available(self) -> bool:
        """False while the circuit lets nothing through, after an abort, and while the provider
        is held back longer than a request may wait (every request would give up at once)."""
        now = self._clock.now()
        if self._aborted is not None or self._hold_until - now > self._spec.deadline_s:
            return False
        state = self._breaker.state(now)
        return state is Circuit.CLOSED or (state is Circuit.HALF_OPEN and not self._breaker.trial)

    # -- sharing the limits with the job's other processes (policy.shares) ------------------------

    def expect_peers(self) -> None:
        """Paced requests wait until `join`: the first share must count the processes that start too."""
        if self._shares:
            self._settling = anyio.Event()

    def join(self, members: int, *, others_sent: bool) -> None:
        """Start sending as one of `members`; `others_sent` (in the last window): it waits a window first."""
        self.share(members)
        if others_sent:
            now = self._clock.now()
            for share in self._shares:
                share.fill(now)
        if self._settling is not None:
            self._settling.set()
            self._settling = None

    def share(self, members: int) -> None:
        """Hold this process's share of every limit while `members` processes work the job.

        Never less than the `parts` it was built for: those processes start together, seen or not yet.
        """
        members = max(members, self._parts)
        now = self._clock.now()
        for share in self._shares:
            share.set(members, now)
        ceiling = concurrency_share(self._spec.concurrency, members)
        if ceiling != self._adaptive.ceiling:
            self._adaptive.set_ceiling(ceiling)
            self._slots.resize(self._adaptive.limit)
        for slots, total in self._model_slots:
            slots.resize(concurrency_share(total, members))

    def follow(self, peer: ProviderHealth) -> None:
        """Take another process's hold (its `Retry-After`) and open circuit as this process's own."""
        now = self._clock.now()
        if peer.held_until is not None:
            until = now + (peer.held_until - self._clock.wall())
            if until > max(now, self._hold_until) + PEER_HOLD_SLACK_S:
                self._hold_until = until
                self._event(
                    "provider_backoff",
                    f"holding every request back for {until - now:.1f} s: another process was told to wait",
                    "info",
                    {"seconds": round(until - now, 3), "from": peer.owner},
                )
        seen = self._peer_circuits.get(peer.owner)
        self._peer_circuits[peer.owner] = peer.circuit
        # Only a circuit that opened since the last look: one this process's own opening caused,
        # read again after this one closed, must not open it again.
        if peer.circuit is Circuit.OPEN and seen is not Circuit.OPEN and self._breaker.trip(now):
            self._event(
                "circuit_open",
                f"circuit open: another process opened its own ({peer.last_error or 'failures in a row'})",
                "warning",
                {"cooldown_s": self._breaker.cooldown_s, "from": peer.owner},
            )

    def signals(self) -> tuple[float | None, Circuit]:
        """What the other processes follow (hold end in epoch seconds, circuit): a change is written at once."""
        now = self._clock.now()
        held = round(self._clock.wall() + (self._hold_until - now), 2) if self._hold_until > now else None
        return held, self._breaker.state(now)

    async def generate(self, request: GenerationRequest) -> Generation:
        lane = self._lanes.get(request.model or self._model, self._lane) if self._lanes else self._lane
        tokens = estimate_tokens(request) if self._counts_tokens else 0
        deadline: float | None = None
        tries = 0
        while True:
            trial = self._admit()
            try:
                async with self._slots, lane.slots:
                    try:
                        spends = await self._pace(lane, tokens, deadline)
                    except _NoRoom as why:
                        raise self._unavailable(str(why)) from None
                    started = self._clock.now()
                    if deadline is None:
                        deadline = started + self._spec.deadline_s
                    failure: Exception | None = None
                    self.stats.requests += 1
                    self._in_flight += 1
                    try:
                        with anyio.move_on_after(deadline - started) as scope:
                            generation = await self.provider.generate(request)
                    except Exception as exc:  # every provider failure is the policy's to decide on
                        failure = exc
                    finally:
                        self._in_flight -= 1
                    if scope.cancelled_caught:
                        self.stats.error("timeout", f"no answer within deadline_s = {self._spec.deadline_s:g} s")
                        self._breaker_failure()
                        raise self._unavailable("no answer within its deadline")
                    if failure is None:
                        self._succeeded(generation, self._clock.now() - started, spends)
                        return generation
            finally:
                if trial:
                    self._breaker.trial = False
            action = self._failed(failure)
            tries += 1
            if action is ErrorAction.FAILOVER:
                raise self._unavailable("it will not serve this request", refused=True)
            if tries > self._spec.max_retries:
                raise self._unavailable(f"gave up after {tries} tries")
            wait = self._backoff(tries) if action is ErrorAction.RETRY else 0.0
            if self._clock.now() + wait > deadline:
                raise self._unavailable("no answer within its deadline")
            self.stats.retries += 1
            if wait > 0:
                await self._clock.sleep(wait)

    async def probe(self) -> bool:
        """One small request; True (and the circuit closes) when it answered.

        Raises `ProviderAborted` when the answer says the job cannot go on (a bad key)."""
        request = GenerationRequest(messages=(Message("user", PROBE_PROMPT),), model=self._model or None, max_tokens=1)
        lane = self._lanes.get(self._model, self._lane)
        failure: Exception | None = None
        async with self._slots, lane.slots:
            try:
                await self._pace(lane, estimate_tokens(request) if self._counts_tokens else 0, None)
            except _NoRoom:
                return False  # held back past a request's deadline: no probe can go yet
            self.stats.requests += 1
            try:
                with anyio.fail_after(self._spec.deadline_s):
                    await self.provider.probe(request)
            except Exception as exc:  # the probe's failure only says "not yet", or stops the job
                failure = exc
        if failure is not None:
            self._failed(failure)
            return False
        self.stats.successes += 1
        self._breaker_success()
        return True

    def health(self, job: str, owner: str) -> ProviderHealth:
        now = self._clock.now()
        stats = self.stats
        held = self._clock.wall() + (self._hold_until - now) if self._hold_until > now else None
        return ProviderHealth(
            job=job,
            provider=self.name,
            owner=owner,
            model=self._model,
            requests=stats.requests,
            successes=stats.successes,
            retries=stats.retries,
            failovers=stats.failovers,
            errors=dict(stats.errors),
            latency_p50_s=stats.latency.percentile(0.5),
            latency_p95_s=stats.latency.percentile(0.95),
            concurrency_limit=self._adaptive.limit,
            in_flight=self._in_flight,
            circuit=self._breaker.state(now),
            held_until=held,
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
            cost=stats.cost,
            last_error=stats.last_error,
            details=self.provider.health_details(),
            updated_at=self._clock.wall(),
        )

    # -- the steps of a call ------------------------------------------------------------------

    def _admit(self) -> bool:
        """Whether this request is the half-open trial; raises while the circuit lets none through."""
        if self._aborted is not None:
            raise ProviderAborted(self._aborted, retryable=False)
        state = self._breaker.state(self._clock.now())
        if state is Circuit.CLOSED:
            return False
        if state is Circuit.HALF_OPEN and not self._breaker.trial:
            self._breaker.trial = True
            return True
        raise self._unavailable("its circuit is open")

    async def _pace(self, lane: Lane, tokens: int, deadline: float | None) -> Spends:
        """Wait until the hold is over and the windows have room, then count the request in them.

        One request at a time waits at the gate, first come first served, so a wait is computed
        once, not by every waiter. Waiting for room only counts against a deadline after the
        first send; a hold (the provider asked us to wait) always does.
        """
        clock = self._clock
        if not lane.paced and self._hold_until <= clock.now():
            return ()
        if self._settling is not None and lane.paced:
            await self._settling.wait()
        async with self._gate:
            hold_limit = deadline if deadline is not None else clock.now() + self._spec.deadline_s
            while True:
                now = clock.now()
                if self._hold_until > hold_limit:
                    raise _NoRoom("it is held back past the request's deadline")
                wait = self._hold_until - now
                for window in lane.requests:
                    wait = max(wait, window.wait(now))
                for window in lane.tokens:
                    wait = max(wait, window.wait(now, tokens))
                if wait <= 0:
                    break
                if deadline is not None and now + wait > deadline:
                    raise _NoRoom("its rate limits leave no room before the request's deadline")
                await clock.sleep(wait)
            for window in lane.requests:
                window.add(now)
            return [(window, window.add(now, tokens)) for window in lane.tokens]

    def _succeeded(self, generation: Generation, latency: float, spends: Spends) -> None:
        stats = self.stats
        stats.successes += 1
        stats.latency.add(latency)
        usage = generation.usage
        stats.prompt_tokens += usage.prompt_tokens
        stats.completion_tokens += usage.completion_tokens
        cost = generation.cost
        if cost is None:
            cost = self._estimate_cost(self.name, generation.model, usage)
        stats.cost += cost or 0.0
        self._correct(spends, usage)
        self._backoffs = 0
        self._breaker_success()
        if self._adaptive.success(latency, self._clock.now()):
            self._resized("latency climbed well above its floor")
        elif self._slots.limit != self._adaptive.limit:
            self._slots.resize(self._adaptive.limit)

    @staticmethod
    def _correct(spends: Spends, usage: Usage) -> None:
        """Replace the token estimate by the count the provider reported, when it reported one."""
        if usage.total_tokens > 0:
            for window, spend in spends:
                window.correct(spend, usage.total_tokens)

    def _failed(self, failure: BaseException) -> ErrorAction:
        """Count a failure and decide on it; ABORT raises here."""
        action = self._decide(failure)
        kind = error_class(failure)
        line = one_line(failure, self.name)
        self.stats.error(kind, line)
        if action is ErrorAction.ABORT:
            self._aborted = abort_message(failure, self.name)
            raise ProviderAborted(self._aborted, retryable=False, status=getattr(failure, "status", None))
        # A provider that answers "I will not serve this" is up: only outages open the circuit.
        if kind not in NOT_BREAKER_FAILURES and action is not ErrorAction.FAILOVER:
            self._breaker_failure()
        if action is ErrorAction.BACKOFF:
            self._hold(failure)
        return action

    def _decide(self, failure: BaseException) -> ErrorAction:
        answer = self._classify(failure, self.name)
        action = as_action(answer)
        if action is not None:
            return action
        text = str(answer)
        if text not in self._unknown:  # said once per value: the hook is wrong, not the request
            self._unknown.add(text)
            self._event(
                "classify_error_unknown",
                f"classify_error answered {text!r}, which is none of retry, backoff, failover, abort: retrying",
                "warning",
                {"answer": text},
            )
        return ErrorAction.RETRY

    def _hold(self, failure: BaseException) -> None:
        """Hold the whole provider: until its `Retry-After`, else for a backoff that grows per episode."""
        now = self._clock.now()
        retry_after = getattr(failure, "retry_after", None)
        fresh = self._hold_until <= now
        if isinstance(retry_after, int | float):
            until = now + max(0.0, float(retry_after))
        elif fresh:
            self._backoffs += 1
            until = now + self._backoff(self._backoffs)
        else:
            until = self._hold_until
        if until > self._hold_until:
            self._hold_until = until
            if fresh:
                self._event(
                    "provider_backoff",
                    f"holding every request back for {until - now:.1f} s",
                    "info",
                    {"seconds": round(until - now, 3)},
                )
        if self._adaptive.overload(now):
            self._resized("the provider said it is overloaded")

    def _backoff(self, tries: int) -> float:
        return self._jitter() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(tries, 32))

    def _resized(self, why: str) -> None:
        limit = self._adaptive.limit
        self._slots.resize(limit)
        self._event("concurrency_changed", f"concurrency limit {limit}: {why}", "info", {"limit": limit})

    def _breaker_failure(self) -> None:
        if self._breaker.failure(self._clock.now()):
            self._event(
                "circuit_open",
                f"circuit open after {self._breaker.failures} failures in a row: {self.stats.last_error}",
                "warning",
                {"cooldown_s": self._breaker.cooldown_s},
            )

    def _breaker_success(self) -> None:
        if self._breaker.success():
            self._event("circuit_closed", "answering again: circuit closed", "info", {})

    def _unavailable(self, why: str, *, refused: bool = False) -> ProviderUnavailable:
        self.stats.failovers += 1
        last = f": {self.stats.last_error}" if self.stats.last_error else ""
        return ProviderUnavailable(f"provider {self.name}: {why}{last}", refused=refused)

    def _event(self, kind: str, message: str, severity: str, data: dict[str, JSON]) -> None:
        self._emit(
            Event(
                kind=kind,
                job=self._job,
                message=f"{self.name}: {message}",
                severity=severity,
                provider=self.name,
                data=data,
                at=self._clock.wall(),
            )
        )
