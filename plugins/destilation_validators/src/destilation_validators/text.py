"""Small helpers for talking about untrusted text in issue messages."""

from __future__ import annotations

import json

MAX_MESSAGE = 300
"""Longest issue message; feedback goes back into the next prompt, so it stays short."""


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of `pos` in `text`."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


def where(text: str, pos: int, line_offset: int = 0) -> str:
    """``line L, column C`` of `pos`, shifted by lines stripped off before `text`."""
    line, column = line_col(text, pos)
    return f"line {line + line_offset}, column {column}"


def safe(text: str) -> str:
    """`text` with lone surrogates spelled as escapes, so a message always encodes as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def quote(text: str, limit: int = 60) -> str:
    """A short, quoted, escaped excerpt of model output for a message."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return safe(json.dumps(cut, ensure_ascii=False))


def clip(message: str, limit: int = MAX_MESSAGE) -> str:
    """Cut a message to `limit` characters and make it safe to store."""
    return safe(message if len(message) <= limit else message[: limit - 1] + "…")
