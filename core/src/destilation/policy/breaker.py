"""A circuit breaker per provider: stop sending to a provider that keeps failing, probe it back.

Closed: requests go out. After `failures` failures in a row it opens: nothing goes out and the
router is told so. After `cooldown_s` it is half-open: one request (a probe, or the first task
that comes) may try; its success closes the circuit, its failure opens it for another cool-down.
"""

from __future__ import annotations

import math

from destilation.domain import Circuit


class Breaker:
    def __init__(self, failures: int, cooldown_s: float) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._open = False
        self._opened_at = -math.inf
        self._row = 0
        self.trial = False
        """A half-open trial is under way: no other request may go (the policy sets and clears it)."""

    def state(self, now: float) -> Circuit:
        if not self._open:
            return Circuit.CLOSED
        return Circuit.HALF_OPEN if now - self._opened_at >= self.cooldown_s else Circuit.OPEN

    def success(self) -> bool:
        """A request answered; True when that closed an open circuit."""
        self._row = 0
        was_open, self._open = self._open, False
        return was_open

    def trip(self, now: float) -> bool:
        """Open a closed circuit because another process's opened (True when it was closed)."""
        if self._open:
            return False
        self._open = True
        self._opened_at = now
        return True

    def failure(self, now: float) -> bool:
        """A request failed in a way that says the provider is unwell; True when the circuit opened."""
        self._row += 1
        if self._open:  # a failed trial or probe: another cool-down
            self._opened_at = now
            return False
        if self._row >= self.failures:
            self._open = True
            self._opened_at = now
            return True
        return False
