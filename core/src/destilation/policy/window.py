"""A sliding-window log: what was spent in the last `period` seconds, and when more may go.

Each admitted spend is kept with its time until it leaves the window, so the guarantee is exact:
in any half-open window [t, t + period) the spends add up to at most `limit` (a single spend
larger than `limit` goes alone, in an otherwise empty window, or it would never go). Memory is
one entry per spend of the last period; admitting is O(1) amortised.
"""

from __future__ import annotations

from collections import deque


class Spend:
    """One admitted spend; its amount can be corrected later (tokens reported after the call)."""

    __slots__ = ("amount", "at", "live")

    def __init__(self, at: float, amount: int) -> None:
        self.at = at
        self.amount = amount
        self.live = True


class RateWindow:
    """At most `limit` units (requests or tokens) in any `period` seconds."""

    def __init__(self, limit: int, period: float = 60.0, *, total: int | None = None) -> None:
        if limit < 1:
            raise ValueError(f"a rate limit must be at least 1, got {limit}")
        self.limit = limit
        """What this window admits now; a share of `total` (`policy.shares` moves it)."""
        self.total = limit if total is None else total
        """The job-wide limit this window holds a share of (its own limit when it is the whole)."""
        self.period = period
        self._log: deque[Spend] = deque()
        self._spent = 0

    def spent(self, now: float) -> int:
        """Units spent in the window that ends at `now`."""
        self._expire(now)
        return self._spent

    def wait(self, now: float, amount: int = 1) -> float:
        """Seconds until `amount` fits (0 when it fits now)."""
        self._expire(now)
        if not self._log or self._spent + amount <= self.limit:
            return 0.0
        freed = 0
        for spend in self._log:  # the oldest first: how many must leave before `amount` fits
            freed += spend.amount
            if self._spent - freed + amount <= self.limit:
                return spend.at + self.period - now
        return self._log[-1].at + self.period - now  # an oversized spend waits for an empty window

    def add(self, now: float, amount: int = 1) -> Spend:
        """Record a spend admitted at `now` (call `wait` first: `add` does not check)."""
        spend = Spend(now, amount)
        self._log.append(spend)
        self._spent += amount
        return spend

    def correct(self, spend: Spend, amount: int) -> None:
        """Replace an estimate by what was really spent, while it still counts."""
        if spend.live:
            self._spent += amount - spend.amount
            spend.amount = amount

    def _expire(self, now: float) -> None:
        log = self._log
        while log and log[0].at + self.period <= now:
            spend = log.popleft()
            spend.live = False
            self._spent -= spend.amount
