"""Throughput measured by the dashboard itself: accepted counts sampled over time.

The store keeps no time series; the dashboard samples each job's accepted count at every refresh
and derives samples per second (over a short window) and a history of the last minutes.
"""

from __future__ import annotations

import itertools
from collections import deque

RATE_WINDOW_S = 10.0
"""Samples/s is measured over this many seconds (or as long as the dashboard has watched)."""
HISTORY_S = 300.0
"""How far back the throughput graph reaches."""
BARS = " ▁▂▃▄▅▆▇█"


class Throughput:
    """Per-job accepted counts over time, and what they say about speed."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def record(self, at: float, counts: dict[str, int]) -> None:
        for job, accepted in counts.items():
            samples = self._samples.setdefault(job, deque())
            samples.append((at, accepted))
            while samples and samples[0][0] < at - HISTORY_S:
                samples.popleft()
        for gone in set(self._samples) - set(counts):
            del self._samples[gone]

    def rate(self, job: str, now: float) -> float | None:
        """Samples/s of `job` over the last RATE_WINDOW_S; None until two samples are apart in time."""
        samples = self._samples.get(job)
        if not samples:
            return None
        recent = [s for s in samples if s[0] >= now - RATE_WINDOW_S]
        if len(recent) < 2 or recent[-1][0] <= recent[0][0]:
            return None
        # Only gains count: a count that drops (the job deleted and made again) is no negative speed.
        gained = sum(max(0, b[1] - a[1]) for a, b in itertools.pairwise(recent))
        return gained / (recent[-1][0] - recent[0][0])

    def history(self, now: float, buckets: int) -> list[float]:
        """Samples/s of all jobs together in `buckets` equal slices of the last HISTORY_S, oldest first."""
        width = HISTORY_S / buckets
        gained = [0.0] * buckets
        for samples in self._samples.values():
            previous: tuple[float, int] | None = None
            for at, accepted in samples:
                if previous is not None:
                    slot = int((now - at) // width)
                    if 0 <= slot < buckets:
                        gained[buckets - 1 - slot] += max(0, accepted - previous[1])
                previous = (at, accepted)
        return [g / width for g in gained]


def sparkline(values: list[float]) -> str:
    """One character per value, scaled to the largest; all zero shows as a flat baseline."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[1] * len(values)
    return "".join(BARS[1 + round(v / top * (len(BARS) - 2))] for v in values)
