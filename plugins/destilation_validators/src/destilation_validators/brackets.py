"""A linear scan over JSON brackets that skips over strings, without parsing anything.

The truncation check uses it to see whether a JSON value was cut off; the safe parser uses it
to refuse deep nesting before `json.loads` can recurse into it.
"""

from __future__ import annotations

import re

import attrs

# A string (closing quote captured, absent when the text ends inside it) or a bracket. The
# unrolled string loop cannot backtrack, so matching is linear in the length of the text.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(")?|[\[\]{}]', re.S)
_CLOSER = {"[": "]", "{": "}"}


@attrs.frozen
class Unclosed:
    """Where a JSON value stops short: the brackets still open (outermost first), an open string."""

    opened: tuple[int, ...]
    string_at: int | None = None


def find_unclosed(text: str, start: int) -> Unclosed | None:
    """Scan the object or array that opens at `text[start]`; report it if the text ends inside it.

    Returns None when the value closes (whatever follows is the parser's business) or when a
    bracket closes the wrong kind of value: that is malformed JSON, not cut-off JSON.
    """
    stack: list[int] = []
    for match in _TOKEN.finditer(text, start):
        pos = match.start()
        char = text[pos]
        if char == '"':
            if match.group(1) is None:
                return Unclosed(tuple(stack), pos)
        elif char in _CLOSER:
            stack.append(pos)
        elif _CLOSER[text[stack[-1]]] != char:
            return None
        else:
            stack.pop()
            if not stack:
                return None
    return Unclosed(tuple(stack))


def too_deep(text: str, limit: int) -> int | None:
    """Position of the first bracket nested more than `limit` deep, outside strings, or None."""
    if text.count("[") + text.count("{") <= limit:  # the common case, at C speed
        return None
    depth = 0
    for match in _TOKEN.finditer(text):
        char = text[match.start()]
        if char in _CLOSER:
            depth += 1
            if depth > limit:
                return match.start()
        elif char != '"':
            depth -= 1
    return None
