"""What the policy counts for the provider's health row: plain counters and a bounded latency ring."""

from __future__ import annotations

import math

LATENCY_WINDOW = 512
"""Latencies kept for p50/p95: the most recent ones, so a slow hour long ago does not linger."""


class LatencyRing:
    """The last `size` latencies; percentiles are computed when asked (once a second), not per call."""

    def __init__(self, size: int = LATENCY_WINDOW) -> None:
        self._values: list[float] = []
        self._size = size
        self._next = 0

    def add(self, value: float) -> None:
        if len(self._values) < self._size:
            self._values.append(value)
        else:
            self._values[self._next] = value
            self._next = (self._next + 1) % self._size

    def percentile(self, fraction: float) -> float | None:
        """The nearest-rank percentile (0.5 → median), or None before the first answer."""
        if not self._values:
            return None
        ordered = sorted(self._values)
        rank = max(1, math.ceil(fraction * len(ordered)))
        return ordered[rank - 1]


class Counters:
    """Requests, outcomes, tokens and cost of one provider in one process."""

    def __init__(self) -> None:
        self.requests = 0
        self.successes = 0
        self.retries = 0
        self.failovers = 0
        self.errors: dict[str, int] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self.last_error: str | None = None
        self.latency = LatencyRing()

    def error(self, kind: str, line: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.last_error = line
