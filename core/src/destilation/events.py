"""The event bus: the engine emits, subscribers (progress, logs, the store) listen.

A subscriber that raises is dropped from the bus with a warning, so a broken plugin can never
stop a run. Every event but progress is redacted on the way in, so no subscriber and no store
sees a credential an error message carried. A subscriber with a ``close()`` method is closed when
the run is over (`EventBus.close`), however it ended, so a live display never outlives it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import attrs

from destilation.domain import Event
from destilation.redaction import redact_text, redact_value

Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers; `emit` is synchronous and cheap."""

    def __init__(self, job: str = "") -> None:
        self.job = job
        """The job this bus serves: an event emitted without one (a provider knows no job) gets it."""
        self._subscribers: list[tuple[str, Subscriber]] = []
        self.pending: list[Event] = []
        """Events not yet written to the store; the engine drains this periodically."""

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self._subscribers.append((name, subscriber))

    def emit(self, event: Event) -> None:
        if not event.at or not event.job:
            event = attrs.evolve(event, at=event.at or time.time(), job=event.job or self.job)
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

    def close(self) -> None:
        """The run is over: close every subscriber that has a ``close()``; one that fails is only reported."""
        for name, subscriber in self._subscribers:
            close = getattr(subscriber, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:
                    print(f"warning: event subscriber {name!r} failed to close: {exc}", file=sys.stderr)
