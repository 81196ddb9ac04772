"""One process's share of a job-wide rate limit, moved as the processes working the job come and go.

With `members` live processes each holds ``total // members`` (at least 1) of every
`requests_per_minute` and `tokens_per_minute`. A window log only bounds what this process sent,
so the shares of all processes add up to at most `total` in every 61-second window only if no
process ever counts on more than it held at any moment of that window:

- a share shrinks at once, and what the process sent in the window still counts against it
  (its log is kept), so it waits until its sends fit the smaller share;
- a share grows only once the smaller one has held for a whole window (the limit is the least
  share of the last window), so a process that left, or one that was just counted smaller, has
  had its sends age out before the others take its part;
- a newcomer cannot know how much of the window others used (those that stopped a moment ago
  included): when any sent in it, `fill` counts its whole share as spent, so it waits one window.
"""

from __future__ import annotations

from collections import deque

from destilation.policy.lanes import rate_share
from destilation.policy.window import RateWindow


class Share:
    """The share one window holds of its `total`, with the shares of the last window remembered."""

    def __init__(self, window: RateWindow, now: float) -> None:
        self.window = window
        self._history: deque[tuple[float, int]] = deque([(now, window.limit)])
        """(since, share) for every share held during the last window, oldest first."""

    @property
    def current(self) -> int:
        return self._history[-1][1]

    def set(self, members: int, now: float) -> None:
        """Hold the share of one of `members` processes from `now` (called about once a second)."""
        share = rate_share(self.window.total, members)
        if share != self.current:
            self._history.append((now, share))
        history = self._history
        while len(history) > 1 and history[1][0] <= now - self.window.period:
            history.popleft()  # a share followed by another for a whole window no longer binds
        self.window.limit = min(held for _, held in history)

    def fill(self, now: float) -> None:
        """Count the whole share as spent now: a newcomer that cannot know what the others sent."""
        self.window.add(now, self.window.limit)
