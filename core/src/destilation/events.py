"""The event bus: the engine emits, subscribers (progress bar, logs, the store) listen.

A subscriber that raises is dropped from the bus with a warning, so a broken plugin can never
stop a run. Every event but progress is redacted on the way in, so no subscriber and no store
sees a credential an error message carried.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

import attrs

from destilation.domain import Event
from destilation.redaction import redact_text, redact_value

Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers; `emit` is synchronous and cheap."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []
        self.pending: list[Event] = []
        """Events not yet written to the store; the engine drains this periodically."""

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self._subscribers.append((name, subscriber))

    def emit(self, event: Event) -> None:
        if not event.at:
            event = attrs.evolve(event, at=time.time())
        if event.kind != "progress":  # progress carries only counters: nothing to redact
            event = attrs.evolve(event, message=redact_text(event.message), data=redact_value(event.data))
            self.pending.append(event)
        for name, subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # a subscriber must never stop the engine
                self._subscribers.remove((name, subscriber))
                print(f"warning: event subscriber {name!r} failed and was removed: {exc}", file=sys.stderr)

    def drain(self) -> list[Event]:
        events, self.pending = self.pending, []
        return events


class ProgressBar:
    """A plain one-line progress bar on a terminal, fed by `progress` events."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.active = False

    def __call__(self, event: Event) -> None:
        if event.kind == "progress":
            data = event.data
            done, target = int(data["accepted"]), max(int(data["target"]), 1)
            filled = min(self.width, self.width * done // target)
            bar = "#" * filled + "-" * (self.width - filled)
            rate = float(data.get("rate", 0.0))
            eta = f"{(target - done) / rate:.0f}s" if rate > 0 and done < target else "-"
            line = (
                f"\r{event.job} [{bar}] {done}/{target} accepted, {data.get('rejected', 0)} rejected, "
                f"{rate:.1f}/s, eta {eta} "
            )
            self.stream.write(line)
            self.stream.flush()
            self.active = True
        elif event.kind in ("job_done", "job_paused", "job_failed", "job_cancelled") and self.active:
            self.stream.write("\n")
            self.stream.flush()
            self.active = False
