"""Limits shared by every process of a job: shares, newcomers, and other processes' holds and circuits.

The property: whatever processes join and leave and whatever each sends, the job as a whole never
sends more than `requests_per_minute` in any 60-second window, on one manual clock shared by
every process's policy (each process learns of a change at once, as it would within a tick).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from destilation.config import ModelLimits, ProviderSpec
from destilation.defaults import classify_error
from destilation.domain import Circuit, Event, GenerationRequest, Message, ProviderHealth
from destilation.policy import CallPolicy, ManualClock, ProviderPolicy, make_policy
from destilation.policy.lanes import estimate_tokens
from destilation.policy.peers import LIVE_S, SETTLE_S, Peers, live_rows, sent_lately
from destilation.policy.shares import Share
from destilation.policy.window import RateWindow
from destilation.testing import ScriptedProvider

REQUEST = GenerationRequest((Message("user", "q"),), max_tokens=100)
TOKENS = estimate_tokens(REQUEST)
"""What one request counts in a `tokens_per_minute` window (its answer reports no usage to correct it)."""


def policy_of(
    spec: ProviderSpec, clock: ManualClock, sent: list[float] | None = None, events: list[Event] | None = None
) -> ProviderPolicy:
    log = sent if sent is not None else []

    def answer(_request: GenerationRequest) -> Any:
        log.append(clock.now())
        return "ok"

    emit = events.append if events is not None else (lambda _e: None)
    policy = make_policy(ScriptedProvider(answer), spec, parts=1, classify=classify_error, emit=emit, clock=clock)
    assert isinstance(policy, ProviderPolicy)
    return policy


def most_in_a_minute(sent: list[float]) -> int:
    return max((sum(1 for at in sent if start <= at < start + 60.0) for start in sent), default=0)


join = st.tuples(st.just("join"), st.just(0))
send = st.tuples(st.just("send"), st.integers(0, 5), st.integers(1, 8))
steps = st.lists(
    st.one_of(
        join,
        join,
        st.tuples(st.just("leave"), st.integers(0, 5)),
        send,
        send,
        send,
        st.tuples(st.just("wait"), st.sampled_from([0.5, 5.0, 30.0, 61.0])),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(rpm=st.integers(1, 12), plan=steps, tokens=st.booleans())
@example(rpm=4, plan=[("send", 0, 4), ("join", 0), ("send", 1, 2)], tokens=False)  # a newcomer after sends
@example(rpm=2, plan=[("send", 0, 2), ("join", 0), ("leave", 0), ("join", 0), ("send", 1, 1)], tokens=False)
@example(rpm=4, plan=[("join", 0), ("send", 0, 2), ("send", 1, 2), ("leave", 1), ("send", 0, 2)], tokens=True)
def test_no_60_second_window_of_the_whole_job_holds_more_than_requests_per_minute(
    rpm: int, plan: list[tuple[Any, ...]], tokens: bool
) -> None:
    """`tokens`: the limit is `tokens_per_minute` instead, of `rpm` requests' estimates."""
    clock = ManualClock()
    limits = {"tokens_per_minute": rpm * TOKENS} if tokens else {"requests_per_minute": rpm}
    spec = ProviderSpec(kind="scripted", concurrency=4, breaker_failures=1000, **limits)
    members: list[ProviderPolicy] = []

    def tick() -> None:
        for member in members:
            member.share(len(members))

    everyone: list[list[float]] = []
    """Each process's send times, those that left included: their sends stay in the window."""

    def join() -> None:
        own: list[float] = []
        newcomer = policy_of(spec, clock, own)
        others_sent = any(times and clock.now() - times[-1] < 61.0 for times in everyone)
        everyone.append(own)
        members.append(newcomer)
        newcomer.join(len(members), others_sent=others_sent)
        tick()

    async def main() -> None:
        join()
        for step in plan:
            if step[0] == "join" and len(members) < rpm:  # more processes than the limit: each still sends 1
                join()
            elif step[0] == "leave" and len(members) > 1:
                members.pop(step[1] % len(members))
                tick()
            elif step[0] == "send":
                member = members[step[1] % len(members)]
                for _ in range(step[2]):
                    tick()
                    await member.generate(REQUEST)
            elif step[0] == "wait":
                clock.advance(step[1])
                tick()

    anyio.run(main)
    assert most_in_a_minute(sorted(at for times in everyone for at in times)) <= rpm


def test_a_share_shrinks_at_once_and_grows_only_after_a_whole_window() -> None:
    window = RateWindow(60, 61.0, total=60)
    share = Share(window, 0.0)
    share.set(3, 1.0)
    assert window.limit == 20  # a third process came: smaller at once
    share.set(1, 10.0)
    assert window.limit == 20  # the others left: the smaller share still binds
    share.set(1, 61.9)
    assert window.limit == 20
    share.set(1, 71.0)  # the share of 1 held since 10 s for a whole window
    assert window.limit == 60
    share.set(200, 72.0)
    assert window.limit == 1  # never below one request


@pytest.mark.anyio
async def test_a_newcomer_to_processes_that_sent_waits_a_window_and_one_that_starts_with_them_does_not() -> None:
    clock = ManualClock()
    spec = ProviderSpec(kind="scripted", requests_per_minute=6, tokens_per_minute=10_000)
    late, sent = [], []
    newcomer = policy_of(spec, clock, late)
    newcomer.join(2, others_sent=True)
    await newcomer.generate(REQUEST)
    assert late == [pytest.approx(61.0)]
    starter = policy_of(spec, clock, sent)
    starter.join(2, others_sent=False)
    await starter.generate(REQUEST)
    assert sent == [clock.now()]


@pytest.mark.anyio
async def test_paced_requests_wait_for_the_first_share_and_unpaced_ones_do_not() -> None:
    clock = ManualClock()
    paced = policy_of(ProviderSpec(kind="scripted", requests_per_minute=6), clock)
    free = policy_of(ProviderSpec(kind="scripted"), clock)
    paced.expect_peers()
    free.expect_peers()
    await free.generate(REQUEST)  # nothing to share: it goes at once
    done: list[str] = []

    async def send() -> None:
        await paced.generate(REQUEST)
        done.append("sent")

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await anyio.wait_all_tasks_blocked()
        assert done == []
        paced.join(1, others_sent=False)
    assert done == ["sent"]


def test_concurrency_is_shared_too_and_comes_back_when_the_others_leave() -> None:
    clock = ManualClock()
    spec = ProviderSpec(
        kind="scripted",
        concurrency=9,
        adaptive=False,
        model_limits={"big": ModelLimits(concurrency=6), "small": ModelLimits(requests_per_minute=5)},
    )
    policy = policy_of(spec, clock)
    policy.share(3)
    assert policy.health("j", "o").concurrency_limit == 3
    assert policy._lanes["big"].slots.limit == 2  # type: ignore[union-attr]
    policy.share(3)  # the same again changes nothing
    policy.share(1)
    assert policy.health("j", "o").concurrency_limit == 9
    assert policy._lanes["big"].slots.limit == 6  # type: ignore[union-attr]


def row(owner: str, *, at: float = 1_700_000_000.0, **fields: Any) -> ProviderHealth:
    return ProviderHealth(job="j", provider="scripted", owner=owner, updated_at=at, **fields)


@pytest.mark.anyio
async def test_another_process_s_retry_after_holds_this_one_until_it_ends() -> None:
    clock, events, sent = ManualClock(), [], []
    policy = policy_of(ProviderSpec(kind="scripted"), clock, sent, events)
    wall = clock.wall()
    policy.follow(row("b", held_until=wall + 2.0))
    policy.follow(row("b", held_until=wall + 2.0))  # the same hold read again is not news
    assert [e.kind for e in events] == ["provider_backoff"]
    assert events[0].data == {"seconds": 2.0, "from": "b"}
    assert policy.signals() == (round(wall + 2.0, 2), Circuit.CLOSED)
    await policy.generate(REQUEST)
    assert sent == [2.0]
    assert policy.signals() == (None, Circuit.CLOSED)
    policy.follow(row("b", held_until=wall - 5.0))  # a hold that ended: nothing to do
    assert len(events) == 1


@pytest.mark.anyio
async def test_a_circuit_another_process_opened_opens_this_one_once() -> None:
    clock, events = ManualClock(), []
    policy = policy_of(ProviderSpec(kind="scripted", breaker_cooldown_s=5.0), clock, events=events)
    policy.follow(row("b", circuit=Circuit.OPEN, last_error="boom"))
    assert not policy.available()
    assert [e.kind for e in events] == ["circuit_open"] and "boom" in events[0].message
    clock.advance(5.0)
    assert await policy.probe()  # half-open: the probe closes it
    policy.follow(row("b", circuit=Circuit.OPEN))  # still open there since the last look: not again
    assert policy.available()
    policy.follow(row("b", circuit=Circuit.CLOSED))
    policy.follow(row("b", circuit=Circuit.OPEN))  # opened again: followed again
    assert not policy.available()
    policy.follow(row("c", circuit=Circuit.OPEN))  # open here already: nothing new
    assert [e.kind for e in events].count("circuit_open") == 2


def test_live_rows_are_the_provider_s_rows_written_in_the_last_seconds() -> None:
    now = 1_700_000_100.0
    rows = [row("a", at=now), row("b", at=now - LIVE_S - 0.1), row("c", at=now - 1.0)]
    rows.append(ProviderHealth(job="j", provider="other", owner="d", updated_at=now))
    assert [r.owner for r in live_rows(rows, "scripted", now)] == ["a", "c"]


def test_sends_of_the_last_window_count_for_a_newcomer_unless_its_own_run_s_workers_made_them() -> None:
    now = 1_700_000_100.0
    me = "host:1:abc"

    def lately(*rows: ProviderHealth) -> bool:
        return sent_lately(list(rows), "scripted", me, now)

    assert lately(row("host:2:def", at=now - 60.0, requests=1))  # stopped, but its sends are in the window
    assert not lately(row("host:2:def", at=now - 62.0, requests=9))  # all older than the window
    assert not lately(row("host:2:def", at=now, requests=0))
    assert not lately(row(f"{me}/w1", at=now, requests=5))  # this run's own worker: allowed for
    assert lately(row(f"{me}/w1", at=now, requests=5), row("host:2:def/w1", at=now, requests=5))
    assert not lately(ProviderHealth(job="j", provider="other", owner="x", requests=3, updated_at=now))


class Recorder(CallPolicy):
    """Records what `Peers` asks of a policy; the contract's defaults answer the rest."""

    def __init__(self) -> None:
        self.name = "scripted"
        self.calls: list[tuple[Any, ...]] = []

    def available(self) -> bool:
        return True

    async def generate(self, request: GenerationRequest) -> Any:
        raise NotImplementedError

    async def probe(self) -> bool:
        return True

    def health(self, job: str, owner: str) -> ProviderHealth:
        return row(owner)

    def join(self, members: int, *, others_sent: bool) -> None:
        self.calls.append(("join", members, others_sent))

    def share(self, members: int) -> None:
        self.calls.append(("share", members))

    def follow(self, peer: ProviderHealth) -> None:
        self.calls.append(("follow", peer.owner))


def test_peers_join_once_settled_then_share_and_follow_every_tick() -> None:
    policy = Recorder()
    peers = Peers({"scripted": policy}, "me", started=100.0)
    wall = 1_700_000_000.0
    rows = [row("me", at=wall), row("b", at=wall, requests=3), row("c", at=wall - 60.0, requests=1)]
    peers.tick(rows, wall, 100.0 + SETTLE_S / 2)  # too early to join: the others are followed only
    assert policy.calls == [("follow", "b")]
    peers.tick(None, wall, 100.0 + SETTLE_S)  # nothing read: not yet
    peers.tick(rows, wall, 100.0 + SETTLE_S)
    peers.tick(None, wall, 101.0 + SETTLE_S)  # nothing read: the share stays
    peers.tick([row("me", at=wall)], wall, 102.0 + SETTLE_S)
    assert policy.calls[1:] == [("join", 2, True), ("follow", "b"), ("share", 1)]
    late = Recorder()
    unread = Peers({"scripted": late}, "me", started=100.0)
    unread.tick(None, wall, 100.0 + 2 * SETTLE_S)  # the store still answers nothing: start alone
    assert late.calls == [("join", 1, False)]


def test_peers_report_a_change_of_hold_or_circuit_once() -> None:
    clock = ManualClock()
    policy = policy_of(ProviderSpec(kind="scripted"), clock)
    peers = Peers({"scripted": policy, "plain": Recorder()}, "me", started=0.0)
    assert peers.changed()  # nothing written yet
    assert not peers.changed()
    policy.follow(row("b", held_until=clock.wall() + 3.0))
    assert peers.changed()
    assert not peers.changed()


def test_a_policy_without_limits_to_share_ignores_its_peers() -> None:
    plain = Recorder()
    CallPolicy.expect_peers(plain)
    CallPolicy.join(plain, 3, others_sent=True)
    CallPolicy.share(plain, 3)
    CallPolicy.follow(plain, row("b", circuit=Circuit.OPEN))
    assert plain.signals() == (None, Circuit.CLOSED)
    assert plain.calls == []


@pytest.mark.anyio
async def test_news_of_a_hold_ends_the_wait_for_the_next_tick_and_other_events_do_not() -> None:
    peers = Peers({}, "me", started=0.0)
    peers.notice(Event("progress", "j"))
    with anyio.move_on_after(0.05) as scope:
        await peers.wait(10.0)
    assert scope.cancelled_caught  # no news: the whole wait
    peers.notice(Event("provider_backoff", "j"))
    with anyio.fail_after(5.0):
        await peers.wait(10.0)  # news: at once
    with anyio.move_on_after(0.05) as scope:
        await peers.wait(10.0)
    assert scope.cancelled_caught  # and only once
