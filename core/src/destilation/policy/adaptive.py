"""Adaptive concurrency (AIMD): find how many requests a provider serves well, and keep to it.

Hosted APIs say "too many" with 429/503; vLLM and Ollama queue instead, so their latency climbs.
Either signal halves the limit (a latency climb cuts it by a quarter: it is a softer signal);
every success adds to it, one per success during the start-up ramp (the limit doubles each
round trip, as TCP's slow start) and about one per round trip after the first cut. At most one
cut per round trip, so a burst of 429s from requests already in flight counts once.
"""

from __future__ import annotations

import math

START = 4
"""The ramp starts here (or at the ceiling if it is lower)."""
OVERLOAD_CUT = 0.5
LATENCY_CUT = 0.75
LATENCY_RATIO = 2.0
"""Latency "well above its floor": the recent average at least this many times the floor..."""
LATENCY_MARGIN_S = 0.05
"""...and at least this much above it, so millisecond noise on a fast server is no signal."""
WARM_UP = 16
"""Successes seen before latency is trusted as a signal."""
SHORT_WEIGHT = 0.1
"""Weight of a new latency in the recent average (about the last ten answers)."""
FLOOR_RISE = 1 / 256
"""How fast the floor follows a higher recent average (it follows a lower one at once)."""


class AdaptiveLimit:
    """The concurrency limit of one provider: between 1 and `ceiling`, moved by what answers say."""

    def __init__(self, ceiling: int, *, adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive
        self._value = float(min(ceiling, START) if adaptive else ceiling)
        self._threshold = float(ceiling)
        self._recent: float | None = None
        self._floor = math.inf
        self._seen = 0
        self._last_cut = -math.inf

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
        recent = latency_s if self._recent is None else self._recent + SHORT_WEIGHT * (latency_s - self._recent)
        self._recent = recent
        self._floor = recent if recent < self._floor else self._floor + FLOOR_RISE * (recent - self._floor)
        self._seen += 1
        climbed = recent >= LATENCY_RATIO * self._floor and recent - self._floor >= LATENCY_MARGIN_S
        if self._seen >= WARM_UP and climbed and self._cut(LATENCY_CUT, now):
            return "latency"
        step = 1.0 if self.ramping else 1.0 / self._value
        self._value = min(float(self.ceiling), self._value + step)
        return None

    def overload(self, now: float) -> bool:
        """The provider said it is overloaded (429/503): True when that cut the limit."""
        return self.adaptive and self._cut(OVERLOAD_CUT, now)

    def _cut(self, factor: float, now: float) -> bool:
        round_trip = max(1.0, self._recent or 0.0)
        if now - self._last_cut < round_trip:
            return False
        self._value = max(1.0, self._value * factor)
        self._threshold = self._value
        self._last_cut = now
        return True
