"""Adaptive concurrency (AIMD): find how many requests a provider serves well, and keep to it.

Hosted APIs say "too many" with 429/503; vLLM and Ollama queue instead, so their latency climbs.
Either signal cuts the limit: a 429/503 halves it, a latency climb takes a quarter off (a softer
signal). Latency is compared in the log domain (geometric averages), where one very long answer
among short ones moves the average little: the recent average (about the last 20 answers)
against a floor that follows lower latencies four times faster than higher ones (a few hundred
answers), so a server that starts queueing is noticed within a few dozen answers while the
natural spread of answer lengths is not taken for load (the tests check both: log-normal
latencies with sigma 0.8 make no cut in 5 000 answers, a queue is noticed within 40). Every success adds to
the limit: one per success during the start-up ramp (the limit doubles each round trip, as TCP's
slow start), about one per round trip after the first cut. At most one cut per round trip, so a
burst of 429s from requests already in flight counts once.
"""

from __future__ import annotations

import math

START = 4
"""The ramp starts here (or at the ceiling if it is lower)..."""
START_SHARE = 1 / 8
"""...or at this share of a larger ceiling: from 4, a ceiling of 500 takes seven round trips to
reach, which at 200 ms is more than a 2 000-sample job's whole ideal run time."""
OVERLOAD_CUT = 0.5
LATENCY_CUT = 0.75
LATENCY_RATIO = 2.0
"""Latency "well above its floor": the recent average at least this many times the floor..."""
_LOG_RATIO = math.log(LATENCY_RATIO)
LATENCY_MARGIN_S = 0.05
"""...and at least this much above it, so millisecond noise on a fast server is no signal."""
WARM_UP = 16
"""Successes seen before latency is trusted as a signal."""
RECENT_WEIGHT = 0.05
"""Weight of a new latency in the recent average (about the last twenty answers)."""
FLOOR_FALL = 1 / 64
FLOOR_RISE = 1 / 256
"""How fast the floor follows the recent average down, and up."""


class AdaptiveLimit:
    """The concurrency limit of one provider: between 1 and `ceiling`, moved by what answers say."""

    def __init__(self, ceiling: int, *, adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive
        self._value = float(min(ceiling, max(START, int(ceiling * START_SHARE))) if adaptive else ceiling)
        self._threshold = float(ceiling)
        self._recent: float | None = None
        """The recent average of log-latencies, and their floor."""
        self._floor: float | None = None
        self._seen = 0
        self._last_cut = -math.inf

    def set_ceiling(self, ceiling: int) -> None:
        """A new most (this process's share of `concurrency` changed); the limit stays within it."""
        self.ceiling = ceiling
        self._threshold = min(self._threshold, float(ceiling))
        self._value = min(self._value, float(ceiling)) if self.adaptive else float(ceiling)

    @property
    def limit(self) -> int:
        return max(1, int(self._value))

    @property
    def ramping(self) -> bool:
        return self._value < self._threshold

    def success(self, latency_s: float, now: float) -> str | None:
        """Count an answer; the reason when it cut the limit ("latency"), else None."""
        if not self.adaptive:
            return None
        point = math.log(max(latency_s, 1e-6))
        recent = point if self._recent is None else self._recent + RECENT_WEIGHT * (point - self._recent)
        floor = recent if self._floor is None else self._floor
        floor += (FLOOR_FALL if recent < floor else FLOOR_RISE) * (recent - floor)
        self._recent, self._floor = recent, floor
        self._seen += 1
        climbed = recent - floor >= _LOG_RATIO and math.exp(recent) - math.exp(floor) >= LATENCY_MARGIN_S
        if self._seen >= WARM_UP and climbed and self._cut(LATENCY_CUT, now):
            return "latency"
        step = 1.0 if self.ramping else 1.0 / self._value
        self._value = min(float(self.ceiling), self._value + step)
        return None

    def overload(self, now: float) -> bool:
        """The provider said it is overloaded (429/503): True when that cut the limit."""
        return self.adaptive and self._cut(OVERLOAD_CUT, now)

    def _cut(self, factor: float, now: float) -> bool:
        round_trip = max(1.0, math.exp(self._recent)) if self._recent is not None else 1.0
        if now - self._last_cut < round_trip:
            return False
        self._value = max(1.0, self._value * factor)
        self._threshold = self._value
        self._last_cut = now
        return True
