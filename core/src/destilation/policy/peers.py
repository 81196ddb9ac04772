"""The job's other processes, as their health rows tell: who is live, and what they were told.

Every process working a job writes a health row per provider about once a second (and at once
when its hold or circuit changes), and reads all the job's rows once per control tick. From
them `Peers.tick` gives each policy the number of live members (its limits are shared among
them, `policy.shares`), and every other live process's hold (`Retry-After`) and newly opened
circuit, which this process then keeps too: what one process is told reaches the others within
a tick or two.

Live members are the owners whose row was written in the last `LIVE_S` seconds (`live_rows`: the
one place to change should membership come from elsewhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio

from destilation.domain import Circuit, Event, ProviderHealth
from destilation.policy.contract import CallPolicy
from destilation.policy.lanes import RATE_PERIOD_S

LIVE_S = 3.0
"""A process whose rows are older than this no longer counts (it died or lost the store)."""
NEWS = frozenset({"provider_backoff", "circuit_open"})
"""Events after which this process's rows go out at once instead of at the next tick."""
SETTLE_S = 2.0
"""How long a starting process waits before its first paced request: long enough for the
processes starting with it to write their rows, and for those already running to read its own
and answer with a row that shows whether they sent before they counted it."""


def live_rows(rows: Sequence[ProviderHealth], provider: str, wall: float) -> list[ProviderHealth]:
    """The rows of `provider` written in the last `LIVE_S` seconds: one per live member."""
    return [row for row in rows if row.provider == provider and wall - row.updated_at <= LIVE_S]


def group_of(owner: str) -> str:
    """The run an owner belongs to: a forked worker's owner is its run's, then ``/w<n>`` (engine.forking)."""
    return owner.split("/", 1)[0]


def sent_lately(rows: Sequence[ProviderHealth], provider: str, owner: str, wall: float) -> bool:
    """Whether a process outside `owner`'s run may have sent to `provider` in the last rate window.

    Live or not: a process that stopped a moment ago still has its sends in the window. A run's
    own workers divided the limits by their number from the start, so their sends are allowed for.
    """
    group = group_of(owner)
    return any(
        row.provider == provider
        and group_of(row.owner) != group
        and row.requests > 0
        and wall - row.updated_at <= RATE_PERIOD_S
        for row in rows
    )


class Peers:
    """Applies what the job's other processes' rows say to this process's policies, once per tick."""

    def __init__(self, policies: Mapping[str, CallPolicy], owner: str, started: float) -> None:
        self._policies = policies
        self._owner = owner
        self._started = started
        self._joined = False
        self._signals: dict[str, tuple[float | None, Circuit]] = {}
        self._news = anyio.Event()
        for policy in policies.values():
            policy.expect_peers()

    def notice(self, event: Event) -> None:
        """An event subscriber: a hold or an opened circuit here ends the wait for the next tick."""
        if event.kind in NEWS:
            self._news.set()

    async def wait(self, seconds: float) -> None:
        """Until the next tick: `seconds`, or sooner when `notice` saw news."""
        with anyio.move_on_after(seconds):
            await self._news.wait()
        self._news = anyio.Event()

    def tick(self, rows: Sequence[ProviderHealth] | None, wall: float, now: float) -> None:
        """Share the limits among the live members and follow their holds; `rows` None: none could be read.

        `wall` is epoch seconds (the rows' clock), `now` the monotonic clock `started` was read on.
        """
        # Unread rows put the start off, but only once: a store that keeps failing stops the job anyway.
        waited = now - self._started
        joining = not self._joined and (waited >= 2 * SETTLE_S or (waited >= SETTLE_S and rows is not None))
        for name, policy in self._policies.items():
            others = [row for row in live_rows(rows or (), name, wall) if row.owner != self._owner]
            members = 1 + len({row.owner for row in others})
            if joining:
                policy.join(members, others_sent=sent_lately(rows or (), name, self._owner, wall))
            elif self._joined and rows is not None:
                policy.share(members)
            for row in others:
                policy.follow(row)
        self._joined = self._joined or joining

    def changed(self) -> bool:
        """Whether a policy's hold or circuit changed since the last call: its row should go out now."""
        signals = {name: policy.signals() for name, policy in self._policies.items()}
        changed, self._signals = signals != self._signals, signals
        return changed
