"""Runaway repetition: a model stuck in a loop repeats a passage until the token limit.

Two checks, both linear in the length of the text:

- `find_tandem`: a passage of at least `min_chunk` characters repeated `min_run` times back to
  back. Rather than trying every period at every position (what a backreference regex does,
  far too slowly), it samples the text every `stride` characters, looks for the next copy of a
  short probe within `max_chunk` characters, and confirms a candidate period with a few slice
  comparisons. The stride is small enough that any qualifying run holds a sample with enough of
  the run after it to be confirmed from there.
- `find_repeated_line`: one line that keeps coming back, not necessarily in a row.
"""

from __future__ import annotations

from collections import Counter

import attrs

_PROBE = 16
"""Characters of the probe searched for; short enough to fit the smallest chunk."""


@attrs.frozen
class Repeat:
    """A passage repeated `copies` times in a row starting at `start`."""

    start: int
    chunk: str
    copies: int


@attrs.frozen
class RepeatedLine:
    """A line making up `count` of the `total` non-blank lines."""

    line: str
    count: int
    total: int


def _forward(text: str, x: int, y: int, known: int, cap: int) -> int:
    """Length of the common prefix of text[x:] and text[y:] (x < y), between `known` and `cap`."""
    lo, hi = known, min(cap, len(text) - y)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text[x + lo : x + mid] == text[y + lo : y + mid]:  # only the part not yet known equal
            lo = mid
        else:
            hi = mid - 1
    return lo


def _backward(text: str, x: int, y: int) -> int:
    """Length of the common suffix of text[:x] and text[:y] (x < y)."""
    lo, hi = 0, x
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text[x - mid : x - lo] == text[y - mid : y - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _primitive(chunk: str) -> str:
    """The shortest string whose repetition makes `chunk` ("abab" → "ab"), for a readable report."""
    return chunk[: (chunk + chunk).find(chunk, 1)]


def _confirm(text: str, j: int, period: int, min_run: int) -> Repeat | None:
    """Whether text[j] lies in a run of `min_run` copies of a `period`-long passage."""
    need = (min_run - 1) * period  # positions i in a row with text[i] == text[i + period]
    quick = need // 2
    if text[j : j + quick] != text[j + period : j + period + quick]:
        return None
    ahead = _forward(text, j, j + period, quick, need)
    behind = need - ahead
    if behind > j or text[j - behind : j] != text[j + period - behind : j + period]:
        return None
    # Confirmed: measure the whole run once, for the report.
    start = j - _backward(text, j, j + period)
    end = j + _forward(text, j, j + period, ahead, len(text))
    chunk = _primitive(text[start : start + period])
    return Repeat(start, chunk, (end - start + period) // len(chunk))


def find_tandem(text: str, *, min_chunk: int, max_chunk: int, min_run: int) -> Repeat | None:
    """The first passage of `min_chunk`..`max_chunk` characters repeated `min_run`+ times in a row.

    Requires ``1 <= min_chunk <= max_chunk`` and ``min_run >= 2``.
    """
    n = len(text)
    probe = min(_PROBE, min_chunk)
    # A run of period p spans at least (min_run - 1) * p equal pairs; the first sample inside it
    # must still see `probe` characters and half of that span ahead of it.
    span = (min_run - 1) * min_chunk
    stride = max(1, min(span // 2, span - probe + 1))
    for j in range(0, n - min_chunk - probe + 1, stride):
        word = text[j : j + probe]
        limit = j + max_chunk + probe
        pos = text.find(word, j + min_chunk, limit)
        while pos >= 0:
            found = _confirm(text, j, pos - j, min_run)
            if found is not None:
                return found
            pos = text.find(word, pos + 1, limit)
    return None


def find_repeated_line(text: str, *, min_chunk: int, min_run: int, max_ratio: float) -> RepeatedLine | None:
    """A line of `min_chunk`+ characters seen `min_run`+ times that fills over `max_ratio` of the lines."""
    lines = [s for s in (line.strip() for line in text.splitlines()) if s]
    counts = Counter(line for line in lines if len(line) >= min_chunk)
    if not counts:
        return None
    line, count = counts.most_common(1)[0]
    if count >= min_run and count > max_ratio * len(lines):
        return RepeatedLine(line, count, len(lines))
    return None
