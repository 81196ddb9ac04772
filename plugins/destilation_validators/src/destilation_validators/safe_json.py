"""Parse untrusted model output as JSON without letting it hurt the process or the dataset.

`json.loads` accepts things a dataset must not hold: ``NaN`` and ``Infinity``, numbers that
overflow to infinity, duplicate keys (the last one silently wins), lone surrogates (they crash
a UTF-8 writer later) and nesting deep enough to raise `RecursionError`. `parse_json` refuses
all of them and returns an `Issue` instead of raising, whatever the text is.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import attrs

from destilation import Issue
from destilation_validators.brackets import too_deep
from destilation_validators.fence import strip_fence
from destilation_validators.text import clip, quote, where

JSON = Any

_SURROGATE = re.compile("[\ud800-\udfff]")
# A \u escape of a surrogate that is not escaped itself (an even run of backslashes before it):
# a high one with its low partner, or any other surrogate escape, which is then unpaired.
_ESCAPED_SURROGATE = re.compile(
    r"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    r"|(?<!\\)(?:\\\\)*\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


@attrs.frozen
class Parsed:
    """The value when the text is safe JSON, else the one issue that says why not."""

    value: JSON = None
    issue: Issue | None = None


class _Refused(Exception):
    """Raised from inside the decoder's hooks to stop at the first unsafe construct."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _no_constant(token: str) -> float:
    raise _Refused(
        Issue(
            "non_finite_number",
            f"{token} is not a JSON number",
            hint="Use a finite number, or null when there is no value.",
        )
    )


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _Refused(
            Issue(
                "non_finite_number",
                f"the number {clip(token, 40)} is too large to represent",
                hint="Use a number of ordinary size, or write it as a string.",
            )
        )
    return value


def _unique_object(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(
                    Issue(
                        "duplicate_key",
                        f"the key {quote(key)} appears twice in the same object",
                        hint="Give each key once per object; merge the two values or rename one key.",
                    )
                )
            seen.add(key)
    return obj


def _hint_for(error: json.JSONDecodeError, body: str) -> str:
    """Say what to do about the most common ways model output fails to be JSON."""
    message = error.msg
    if message.startswith("Extra data"):
        return "Answer with exactly one JSON value and nothing after it: no notes, no second object."
    if message.startswith("Expecting property name"):
        return "Put every key in double quotes and remove trailing commas."
    if message.startswith("Invalid control character"):
        return "Escape line breaks and tabs inside strings as \\n and \\t."
    if message.startswith("Invalid \\escape"):
        return "Inside strings write a backslash as \\\\ and use only the JSON escapes such as \\n and \\u00e9."
    if error.pos == len(body) or message.startswith("Unterminated string"):
        return "The JSON stops too early: close every string, array and object."
    if error.pos == len(body) - len(body.lstrip()):
        return "Start the answer with the JSON value itself, with no text or Markdown before it."
    return "Answer with one valid JSON value only."


def _decode_error(error: json.JSONDecodeError, body: str, line_offset: int) -> Issue:
    near = f" near {quote(body[error.pos : error.pos + 20], 20)}" if error.pos < len(body) else ""
    position = f"line {error.lineno + line_offset}, column {error.colno}"
    what = error.msg.removesuffix(" at")  # "Invalid control character at" already ends in "at"
    return Issue("invalid_json", clip(f"{what} at {position}{near}"), hint=_hint_for(error, body))


def _byte_length_over(text: str, limit: int) -> bool:
    """Whether the UTF-8 form of `text` exceeds `limit` bytes, encoding only when in doubt."""
    if len(text) * 4 <= limit:
        return False
    if len(text) > limit:
        return True
    return len(text.encode("utf-8", "surrogatepass")) > limit


def _unpaired_escape(body: str) -> int | None:
    """Position of the first ``\\uD8xx``-style escape that does not form a surrogate pair."""
    for match in _ESCAPED_SURROGATE.finditer(body):
        if match.group(1) is None:  # a high surrogate without its low partner, or a stray low one
            return match.end() - 6
    return None


def parse_json(text: str, *, max_bytes: int, max_depth: int) -> Parsed:
    """Parse `text` (optionally inside one ```` ```json ```` fence) as safe JSON; never raises."""
    if _byte_length_over(text, max_bytes):
        return Parsed(
            issue=Issue(
                "too_large",
                f"the answer is longer than the limit of {max_bytes} bytes",
                hint="Write a much shorter answer that still matches the schema.",
            )
        )
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        code, at = ord(surrogate.group()), where(text, surrogate.start())
        return Parsed(
            issue=Issue(
                "lone_surrogate",
                f"the text holds an unpaired surrogate U+{code:04X} at {at}",
                hint="Write every character as itself; never emit half of a surrogate pair.",
            )
        )
    body, line_offset = strip_fence(text)
    deep = too_deep(body, max_depth)
    if deep is not None:
        return Parsed(issue=_too_deep(max_depth, f" (at {where(body, deep, line_offset)})"))
    try:
        value = json.loads(
            body, parse_constant=_no_constant, parse_float=_finite_float, object_pairs_hook=_unique_object
        )
    except _Refused as refused:
        return Parsed(issue=refused.issue)
    except json.JSONDecodeError as error:
        return Parsed(issue=_decode_error(error, body, line_offset))
    except RecursionError:  # only when max_depth is set above the interpreter's own limit
        return Parsed(issue=_too_deep(max_depth, ""))
    except ValueError:  # an integer longer than Python's digit limit for str -> int
        return Parsed(
            issue=Issue(
                "invalid_json",
                "a number has too many digits to read",
                hint="Keep numbers to a few dozen digits; put long digit strings in a JSON string.",
            )
        )
    if "\\u" in body:
        lone = _unpaired_escape(body)
        if lone is not None:
            return Parsed(
                issue=Issue(
                    "lone_surrogate",
                    f"the escape {body[lone : lone + 6]} at {where(body, lone, line_offset)} is half of a "
                    "surrogate pair with no partner",
                    hint="Write the character itself, or a complete pair such as \\ud83d\\ude00.",
                )
            )
    return Parsed(value)


def _too_deep(max_depth: int, at: str) -> Issue:
    return Issue(
        "too_deep",
        f"the JSON nests arrays and objects more than {max_depth} levels deep{at}",
        hint="Flatten the structure to what the schema asks for.",
    )
