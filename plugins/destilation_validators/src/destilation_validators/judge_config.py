"""The `judge` validator's settings: which provider judges, against which rubric, and how strictly."""

from __future__ import annotations

import math
import re
from typing import Any

import attrs

SCORE_MIN = 1
SCORE_MAX = 10
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
"""A criterion's name: it becomes a key of the judge's reply and a score column (`judge.<name>`)."""


def _number(low: float, high: float, *, open_low: bool = False) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not number or not low <= value <= high or (open_low and value == low):
            above = f"more than {low:g}" if open_low else f"at least {low:g}"
            raise ValueError(f"'{attribute.name}' must be a number {above} and at most {high:g}, got {value!r}")

    return check


def _name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not NAME.fullmatch(value):
        raise ValueError(
            f"'name' must start with a letter and hold only letters, digits, '_' and '-' (64 at most), got {value!r}"
        )


def _text(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError(f"'{attribute.name}' must not be empty")


@attrs.frozen
class Criterion:
    """One line of the rubric: what the judge scores from 1 to 10, and how much it counts."""

    name: str = attrs.field(validator=_name)
    description: str = attrs.field(validator=_text)
    weight: float = attrs.field(default=1.0, validator=_number(0.0, 1000.0, open_low=True))


def _rubric(instance: Any, attribute: attrs.Attribute[Any], value: list[Criterion]) -> None:
    if not value:
        raise ValueError("'rubric' must list at least one criterion ({ name, description, weight })")
    names = [c.name for c in value]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"'rubric' names a criterion twice: {', '.join(twice)}")


def _tokens(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"'max_tokens' must be at least 1, got {value}")


@attrs.frozen
class JudgeConfig:
    """`[validators.judge]`: a job provider (usually `route = false`) scores each candidate."""

    provider: str = attrs.field(validator=_text)
    """The name of one of the job's providers, e.g. `[providers.judge]`."""
    rubric: list[Criterion] = attrs.field(validator=_rubric)
    threshold: float = attrs.field(default=7.0, validator=_number(SCORE_MIN, SCORE_MAX))
    """The weighted mean of the scores a candidate needs to pass (1 to 10)."""
    model: str | None = None
    """Ask the judge provider for this model instead of its own."""
    max_tokens: int = attrs.field(default=512, validator=_tokens)
    temperature: float = attrs.field(default=0.0, validator=_number(0.0, 2.0))
