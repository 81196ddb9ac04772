"""Samples as JSON lines: strict JSON, UTF-8, one object per line, no line breaks inside."""

from __future__ import annotations

import json
from collections.abc import Sequence

from destilation import PluginError, Sample
from destilation_jsonl.scan import Tally

# Valid inside JSON strings but line breaks to `str.splitlines` and JavaScript: written escaped,
# so every reader splits the file into the same lines. The decoded value does not change.
_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


def encode_line(sample: Sample) -> bytes:
    """One dataset line with its newline; bad content raises PluginError naming the sample."""
    try:
        text = json.dumps(sample.record(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        for char, escaped in _LINE_BREAKS:
            text = text.replace(char, escaped)
        return text.encode("utf-8") + b"\n"
    except (ValueError, TypeError, RecursionError) as exc:
        # ValueError covers NaN/inf and lone surrogates (UnicodeEncodeError); nothing is written.
        raise PluginError(
            f"jsonl sink: sample {sample.job}/{sample.task_index} (seq {sample.seq}) cannot be written as JSON: {exc}"
        ) from exc


def encode(samples: Sequence[Sample], tally: Tally) -> bytes:
    """A batch as one buffer, so a batch costs one write; each line is added to `tally`."""
    lines = []
    for sample in samples:
        line = encode_line(sample)
        tally.add(line[:-1], sample.provider, sample.model)
        lines.append(line)
    return b"".join(lines)
