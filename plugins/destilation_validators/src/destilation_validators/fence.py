"""Markdown code fences around JSON: models add them even when told not to."""

from __future__ import annotations

_INFO = ("", "json")


def strip_fence(text: str) -> tuple[str, int]:
    """The body of one surrounding ```` ```json ```` fence, and how many lines preceded the body.

    Text without a fence comes back unchanged with offset 0. An opening fence with no closing
    one still gives its body: the answer was probably cut off, and the JSON checks say where.
    """
    start = len(text) - len(text.lstrip())
    if not text.startswith("```", start):
        return text, 0
    newline = text.find("\n", start)
    if newline < 0 or text[start + 3 : newline].strip().lower() not in _INFO:
        return text, 0
    body_start = newline + 1
    end = len(text.rstrip())
    closed = end - 3 >= body_start and text.startswith("```", end - 3)
    return text[body_start : end - 3 if closed else None], text.count("\n", 0, body_start)
