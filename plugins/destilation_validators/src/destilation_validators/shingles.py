"""Text for near-duplicate checks: normalised words of chosen content fields, cut into word shingles.

Both the candidate and the accepted samples go through the same functions, so what "similar"
means is decided here once: case, punctuation and runs of whitespace do not count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from destilation_validators.jsonpath import strings

_SEPARATORS = re.compile(r"[\W_]+")
"""Punctuation, symbols and whitespace: everything that is not a letter or digit of a word."""


def normalise(text: str) -> list[str]:
    """The words of `text`, case-folded, with punctuation and whitespace collapsed away."""
    return _SEPARATORS.sub(" ", text.casefold()).split()


def shingles(text: str, size: int) -> set[str]:
    """Every run of `size` consecutive normalised words; a text shorter than that is one shingle."""
    words = normalise(text)
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def content_text(content: Any, fields: Sequence[str] | None) -> str:
    """The strings of `content` to compare: all of them, or those under the named top-level fields."""
    if fields is None:
        return "\n".join(text for _, text in strings(content))
    if not isinstance(content, dict):
        return ""
    return "\n".join(text for field in fields if field in content for _, text in strings(content[field]))


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two shingle sets (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0
