"""Small formatting helpers shared by the views: bars, rates, percentages, times."""

from __future__ import annotations

import datetime as dt


def bar(done: int, total: int, width: int) -> str:
    """`[####......]`: plain characters, so it reads the same without colour."""
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def percent(part: int, whole: int) -> str:
    return "-" if whole <= 0 else f"{100 * part / whole:.0f}%"


def per_second(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def clock(at: float) -> str:
    """Local wall-clock time of an epoch, as a log line shows it."""
    return dt.datetime.fromtimestamp(at).strftime("%H:%M:%S") if at else "--:--:--"


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters; a cut shows as `…`."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"
