"""Events about the child (its stderr, garbage on stdout, crashes), redacted and rate-limited.

A child that writes a thousand lines a second must not flood the event log: past the limit of a
minute, lines are only counted, and the next event that goes out says how many were dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from destilation import Event, redact_text

EXCERPT_CHARS = 500
"""How much of a line an event quotes."""


class Notices:
    """The provider's voice on the event bus; every text is redacted before it leaves."""

    def __init__(
        self,
        provider: str,
        emit: Callable[[Event], None],
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._emit = emit
        self._per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}
        """kind -> (window start, events sent in it, lines dropped since the last one sent)."""

    def say(self, kind: str, message: str, severity: str = "warning", **data: Any) -> None:
        """One event, always sent (crashes, restarts)."""
        # The provider does not know its job; the bus's consumers see the provider's name.
        self._emit(Event(kind, "", redact_text(message), severity, provider=self._provider, data=data, at=time.time()))

    def line(self, kind: str, text: str, severity: str = "info", **data: Any) -> None:
        """A line the child wrote, sent only while this kind's budget of the minute lasts."""
        now = self._clock()
        start, sent, dropped = self._windows.get(kind, (now, 0, 0))
        if now - start >= 60.0:
            start, sent = now, 0
        if sent >= self._per_minute:
            self._windows[kind] = (start, sent, dropped + 1)
            return
        self._windows[kind] = (start, sent + 1, 0)
        if len(text) > EXCERPT_CHARS:
            text, data["truncated"] = text[:EXCERPT_CHARS], True
        if dropped:
            data["dropped"] = dropped
        self.say(kind, text, severity, **data)
