"""Progress for people: one live line on a terminal, a plain line every few seconds elsewhere.

Fed by the engine's events. Subscribers never slow the engine (DESIGN §3): a progress event
only replaces the figures to show; drawing happens on rich's refresh thread (a terminal) or a
timer thread (a pipe or a file), both started by the first progress event, so after worker
processes have forked. rich is imported then too: `destiler --help` never loads it.
"""

from __future__ import annotations

import shutil
import sys
import threading
from typing import TYPE_CHECKING, TextIO

import attrs

from destilation.domain import JSON, Event

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

PLAIN_INTERVAL = 3.0
"""Seconds between two plain progress lines."""
REFRESH_PER_SECOND = 4
ENDS = frozenset({"job_done", "job_paused", "job_failed", "job_cancelled"})
BAR_MIN, BAR_MAX = 8, 30
ERASE_LINE = "\r\x1b[2K"


def _number(value: JSON | None) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@attrs.frozen
class Figures:
    """What a progress event says, ready to show."""

    job: str
    accepted: int
    target: int
    rejected: int = 0
    rate: float = 0.0
    """Samples accepted per second in this run."""
    provider_errors: int = 0
    invalid: int = 0
    """Answers that failed validation (each is retried with feedback, or its task rejected)."""
    cost: float = 0.0

    @classmethod
    def of(cls, event: Event) -> Figures:
        def get(key: str) -> float:
            return _number(event.data.get(key))

        return cls(
            job=event.job,
            accepted=int(get("accepted")),
            target=int(get("target")),
            rejected=int(get("rejected")),
            rate=get("rate"),
            provider_errors=int(get("provider_errors")),
            invalid=int(get("invalid")),
            cost=get("cost"),
        )

    @property
    def eta(self) -> str:
        left = self.target - self.accepted
        return duration(left / self.rate) if self.rate > 0 and left > 0 else "-"


def duration(seconds: float) -> str:
    """7s, 3m05s, 2h10m."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def money(cost: float) -> str:
    return f"${cost:.2f}" if cost >= 1 else f"${cost:.4f}"


def plural(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def plain_line(f: Figures) -> str:
    """`physics-qa: 420/1000 accepted, 3 rejected, 85.2/s, eta 7s`, then errors and cost when there are any."""
    parts = [f"{f.accepted}/{f.target} accepted", f"{f.rejected} rejected", f"{f.rate:.1f}/s", f"eta {f.eta}"]
    if f.provider_errors:
        parts.append(plural(f.provider_errors, "provider error"))
    if f.invalid:
        parts.append(f"{plural(f.invalid, 'answer')} failed validation")
    if f.cost:
        parts.append(money(f.cost))
    return f"{f.job}: " + ", ".join(parts)


SHOWN = frozenset({"job_held", "job_resumed"})
"""Said at any verbosity but `-q`: a run that stops sending must say why, and when it goes on."""
PROVIDER_NOTICES = frozenset(
    {
        "provider_error",
        "provider_backoff",
        "provider_failover",
        "provider_wait",
        "circuit_open",
        "circuit_closed",
        "concurrency_changed",
        "structured_output",
    }
)
"""What `-v` adds: what the call policies tell (never one line per request they retry) and failovers."""


def notice_line(event: Event) -> str:
    """A provider's notice as `error_line` words it (its name once); a job's own as `job: message`."""
    if not event.provider:
        return f"{event.job}: {event.message}"
    return error_line(attrs.evolve(event, message=event.message.removeprefix(f"{event.provider}: ")))


def error_line(event: Event) -> str:
    """`physics-qa: provider teacher, task 17: ProviderError: HTTP 503`."""
    task = f", task {event.task_index}" if event.task_index is not None else ""
    return f"{event.job}: provider {event.provider or '?'}{task}: {event.message}"


def live_line(f: Figures, width: int, *, ascii_only: bool = False) -> Text:
    """The terminal line, at most `width` cells: the bar goes first, then the least telling figures."""
    from rich.text import Text

    done = min(f.accepted / f.target, 1.0) if f.target > 0 else 1.0
    # (rank, text, style) in display order; the lowest rank is dropped first.
    fields = [
        (3, f"{done:.0%}", ""),
        (8, f"{f.rejected} rejected", "yellow" if f.rejected else ""),
        (9, plural(f.provider_errors, "provider error"), "red") if f.provider_errors else None,
        (7, f"{f.invalid} invalid", "yellow") if f.invalid else None,
        (5, f"{f.rate:.1f}/s", ""),
        (6, f"eta {f.eta}", "cyan"),
        (4, money(f.cost), "") if f.cost else None,
    ]
    kept = [field for field in fields if field is not None]
    counts = f"{f.accepted}/{f.target}"

    def length(bar: int) -> int:
        return len(f.job) + 1 + (bar + 1 if bar else 0) + len(counts) + sum(3 + len(t) for _, t, _ in kept)

    while kept and length(0) > width:
        kept.remove(min(kept, key=lambda field: field[0]))
    bar = min(BAR_MAX, width - length(0) - 1) if length(BAR_MIN) <= width else 0
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f.job, "bold")
    line.append(" ")
    if bar:
        filled = round(bar * done)
        full, empty = ("#", "-") if ascii_only else ("━", "━")
        line.append(full * filled, "green")
        line.append(empty * (bar - filled), "grey37")
        line.append(" ")
    line.append(counts, "bold")
    sep = " | " if ascii_only else " · "
    for _, text, style in kept:
        line.append(sep, "dim")
        line.append(text, style)
    line.truncate(width, overflow="ellipsis")
    return line


class LiveProgress:
    """On a terminal: one line, redrawn by rich's refresh thread, removed when the job ends.

    It prints a hold (every provider unavailable) and its end above it; `-v` adds the call
    policies' notices (backoffs, circuits, failovers). A forked worker process holds a copy that never
    started a display: it writes its error lines itself, erasing the line first, and the main
    process redraws below them at its next refresh.
    """

    def __init__(self, verbose: bool = False, console: Console | None = None, *, auto_refresh: bool = True) -> None:
        self.verbose = verbose
        self._console = console
        self._auto_refresh = auto_refresh
        self._figures: Figures | None = None
        self._live: Live | None = None
        self._closed = False

    def __call__(self, event: Event) -> None:
        if event.kind == "progress":
            self._figures = Figures.of(event)
            if self._live is None and not self._closed:
                self._start()
        elif event.kind in SHOWN or (self.verbose and event.kind in PROVIDER_NOTICES):
            self._say(notice_line(event))
        elif event.kind in ENDS:
            self.close()

    def _start(self) -> None:
        from rich.console import Console
        from rich.live import Live

        if self._console is None:
            self._console = Console(stderr=True)
        self._live = Live(
            get_renderable=self._render,
            console=self._console,
            transient=True,
            auto_refresh=self._auto_refresh,
            refresh_per_second=REFRESH_PER_SECOND,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def _render(self) -> Text:
        assert self._console is not None and self._figures is not None  # both set before the display starts
        console = self._console
        # One column short of the width: a full last column leaves some terminals wrapping.
        return live_line(self._figures, console.width - 1, ascii_only=console.options.ascii_only)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _say(self, line: str) -> None:
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(line, style="red"), no_wrap=True, overflow="ellipsis", crop=True)
            return
        width = shutil.get_terminal_size().columns - 1
        if len(line) > width:
            line = line[: width - 1] + "…"
        sys.stderr.write(f"{ERASE_LINE}{line}\n")
        sys.stderr.flush()

    def close(self) -> None:
        """Remove the line (the run's result line follows); safe to call again."""
        self._closed = True
        live, self._live = self._live, None
        if live is not None:
            live.stop()


class PlainProgress:
    """Without a terminal: one plain line every `interval` seconds, written by a timer thread."""

    def __init__(self, verbose: bool = False, stream: TextIO | None = None, interval: float = PLAIN_INTERVAL) -> None:
        self.verbose = verbose
        self._stream = stream
        self.interval = interval
        self._figures: Figures | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._write_lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind == "progress":
            self._figures = Figures.of(event)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._tick, name="destiler-progress", daemon=True)
                self._thread.start()
        elif event.kind in SHOWN or (self.verbose and event.kind in PROVIDER_NOTICES):
            self._write(notice_line(event))
        elif event.kind in ENDS:
            self.close()

    def _tick(self) -> None:
        while True:
            if self._figures is not None:
                self._write(plain_line(self._figures))
            if self._stop.wait(self.interval):
                return

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stderr
        with self._write_lock:
            stream.write(line + "\n")
            stream.flush()

    def close(self) -> None:
        """Stop the timer; a line being written is finished first, so the result line comes after it."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=1.0)


def make_progress(verbosity: int) -> LiveProgress | PlainProgress | None:
    """Nothing with `-q`; a live line for a person at a terminal; plain lines for logs and CI."""
    if verbosity < 0:
        return None
    if sys.stderr.isatty():
        return LiveProgress(verbose=verbosity > 0)
    return PlainProgress(verbose=verbosity > 0)
