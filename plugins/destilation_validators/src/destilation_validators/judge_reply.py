"""Strict parsing of the judge's reply: a verdict in the exact shape asked for, or an error saying why not.

A reply that is not a verdict must never pass a candidate, so nothing is guessed: no fences
stripped, no prose skipped, no score rounded or clamped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from destilation_validators.judge_config import SCORE_MAX, SCORE_MIN

MAX_REASONS = 2000
"""Characters of the judge's reasons kept: they go into the next prompt as feedback."""


class UnparsableReply(ValueError):
    """The judge's reply is not a verdict; the message says what is wrong with it."""


@attrs.frozen
class JudgeReply:
    scores: dict[str, int]
    reasons: str


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a key appears twice in an object")
    return out


def _load(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith("{") or not stripped.endswith("}"):
        raise UnparsableReply("it is not one JSON object and nothing else")
    try:
        return json.loads(stripped, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise UnparsableReply(f"it is not JSON ({exc})") from None


def _keys(value: dict[str, Any], wanted: Sequence[str], where: str) -> None:
    missing = [k for k in wanted if k not in value]
    extra = sorted(k for k in value if k not in wanted)
    if missing:
        raise UnparsableReply(f"{where} lacks {', '.join(repr(k) for k in missing)}")
    if extra:
        raise UnparsableReply(f"{where} has unexpected {', '.join(repr(k) for k in extra)}")


def parse_reply(text: str, criteria: Sequence[str], finish_reason: str | None = "stop") -> JudgeReply:
    """The verdict in `text`, with an integer from 1 to 10 for each of `criteria` and nothing else."""
    if finish_reason == "length":
        raise UnparsableReply("it was cut off at the token limit (raise max_tokens)")
    value = _load(text)  # an object: JSON text that starts with "{" and ends with "}" is nothing else
    _keys(value, ("scores", "reasons"), "the reply")
    scores, reasons = value["scores"], value["reasons"]
    if not isinstance(scores, dict):
        raise UnparsableReply("'scores' is not an object")
    if not isinstance(reasons, str):
        raise UnparsableReply("'reasons' is not a string")
    _keys(scores, criteria, "'scores'")
    for name in criteria:
        score = scores[name]
        if isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
            raise UnparsableReply(f"the score of {name!r} is {json.dumps(score)}, not an integer from 1 to 10")
    return JudgeReply({name: scores[name] for name in criteria}, reasons.strip()[:MAX_REASONS])
