"""The `truncation` validator: answers that were cut off, garbled or stuck in a loop.

It reads only the raw text and the finish reason, so it runs first and cheaply, and it tells
the model what went wrong in words it can act on in the next attempt.
"""

from __future__ import annotations

import re

import attrs

from destilation import Candidate, Issue, PluginContext, PluginError, ValidationContext, Verdict
from destilation_validators.brackets import find_unclosed
from destilation_validators.fence import strip_fence
from destilation_validators.repetition import find_repeated_line, find_tandem
from destilation_validators.text import quote, where

# C0 controls other than tab, newline and carriage return; surrogates (broken UTF-8 decoded
# with surrogateescape, or half pairs); U+FFFD, the mark of an earlier lossy decode.
_CORRUPT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_CORRUPT_OR_REPLACEMENT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffd]")

_REPEAT_HINT = "Say each thing once: stop repeating and finish the answer with what was asked for."


@attrs.frozen
class TruncationConfig:
    """Thresholds of the repetition check and what counts as corrupt text."""

    min_repeat_chunk: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    """Shortest passage (characters) whose back-to-back repetition counts as a loop."""
    max_repeat_chunk: int = attrs.field(default=500, validator=attrs.validators.ge(1))
    """Longest passage checked for back-to-back repetition; longer loops are caught line by line."""
    min_repeat_run: int = attrs.field(default=8, validator=attrs.validators.ge(2))
    """Copies in a row (or repeats of one line) that make a loop."""
    max_repeat_ratio: float = attrs.field(default=0.5, validator=[attrs.validators.gt(0), attrs.validators.le(1)])
    """Share of the non-blank lines one repeated line may fill."""
    allow_replacement_char: bool = False
    """Accept U+FFFD, for datasets that are about encodings themselves."""


def _describe_char(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL character (U+0000)"
    if code < 0x20:
        return f"the control character U+{code:04X}"
    if code == 0xFFFD:
        return "the replacement character U+FFFD, a sign of text garbled by a wrong encoding"
    return f"an unpaired surrogate U+{code:04X} (broken UTF-8 or half of a character)"


class TruncationValidator:
    """Flags cut-off, empty, corrupt and runaway answers."""

    name = "truncation"

    def __init__(self, config: TruncationConfig | None, context: PluginContext) -> None:
        self.config = config = config or TruncationConfig()
        if config.max_repeat_chunk < config.min_repeat_chunk:
            raise PluginError(
                f"validator 'truncation': max_repeat_chunk ({config.max_repeat_chunk}) must not be "
                f"smaller than min_repeat_chunk ({config.min_repeat_chunk})"
            )
        self._corrupt = _CORRUPT if config.allow_replacement_char else _CORRUPT_OR_REPLACEMENT

    async def check(self, candidate: Candidate, vctx: ValidationContext) -> Verdict:
        generation = candidate.generation
        text = generation.text
        issues: list[Issue] = []
        cut = generation.finish_reason == "length"
        if cut:
            issues.append(
                Issue(
                    "truncated",
                    "the answer was cut off because it reached the token limit",
                    hint="Give a shorter answer that ends properly: close every string, array and object.",
                )
            )
        if not text.strip():
            issues.append(Issue("empty", "the answer is empty", hint="Answer with the JSON the instructions ask for."))
            return Verdict(issues=tuple(issues))
        corrupt = self._corrupt_issue(text)
        if corrupt is not None:
            issues.append(corrupt)
        if not cut:  # a cut-off answer is unterminated as a matter of course; say it once
            unterminated = _unterminated_issue(text)
            if unterminated is not None:
                issues.append(unterminated)
        repetition = self._repetition_issue(text)
        if repetition is not None:
            issues.append(repetition)
        return Verdict(issues=tuple(issues))

    def _corrupt_issue(self, text: str) -> Issue | None:
        found = self._corrupt.search(text)
        if found is None:
            return None
        more = len(self._corrupt.findall(text, found.end()))
        also = f" (and {more} more such characters)" if more else ""
        return Issue(
            "corrupt_text",
            f"the text contains {_describe_char(found.group())} at {where(text, found.start())}{also}",
            hint="Write plain text: no control characters besides newline and tab, no replacement characters; "
            "inside JSON strings use escapes such as \\n.",
        )

    def _repetition_issue(self, text: str) -> Issue | None:
        config = self.config
        tandem = find_tandem(
            text,
            min_chunk=config.min_repeat_chunk,
            max_chunk=config.max_repeat_chunk,
            min_run=config.min_repeat_run,
        )
        if tandem is not None:
            return Issue(
                "repetition",
                f"the text repeats {quote(tandem.chunk)} {tandem.copies} times in a row, "
                f"starting at {where(text, tandem.start)}",
                hint=_REPEAT_HINT,
            )
        line = find_repeated_line(
            text,
            min_chunk=config.min_repeat_chunk,
            min_run=config.min_repeat_run,
            max_ratio=config.max_repeat_ratio,
        )
        if line is not None:
            return Issue(
                "repetition",
                f"the line {quote(line.line)} makes up {line.count} of the {line.total} non-blank lines",
                hint=_REPEAT_HINT,
            )
        return None


def _unterminated_issue(text: str) -> Issue | None:
    """An issue when the text opens a JSON object or array and ends inside it."""
    body, line_offset = strip_fence(text)
    start = len(body) - len(body.lstrip())
    if not body.startswith(("{", "["), start):
        return None
    unclosed = find_unclosed(body, start)
    if unclosed is None:
        return None
    innermost = unclosed.opened[-1]
    kind, closer = ("object", "}") if body[innermost] == "{" else ("array", "]")
    count = len(unclosed.opened)
    opened = f"the {kind} opened at {where(body, innermost, line_offset)}"
    if count == 1:
        parts = [f"{opened} still needs its closing '{closer}'"]
    else:
        parts = [f"{count} objects or arrays are still open; the innermost, {opened}, needs its closing '{closer}'"]
    if unclosed.string_at is not None:
        parts.insert(0, f"the string that starts at {where(body, unclosed.string_at, line_offset)} never ends")
    return Issue(
        "unterminated_json",
        "the JSON ends before it is complete: " + "; ".join(parts),
        hint="Finish the JSON: close every string, array and object you open.",
    )
