"""Bad answers on purpose: garbage that is not JSON and valid JSON cut short.

Real models produce both; the mock produces them at configured rates so the validators and the
retry loop are exercised offline.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

_FILLER = ("topic", "question", "example", "detail", "answer", "idea")


def _pick(rng: random.Random, words: Sequence[str]) -> str:
    pool = words or _FILLER
    return pool[int(rng.random() * len(pool))]


def garbage(rng: random.Random, words: Sequence[str], kind: int | None = None) -> str:
    """Text a JSON parser rejects: chatty prose, broken JSON or markdown (`kind` 0, 1, 2; random when None)."""
    a, b, c = _pick(rng, words), _pick(rng, words), _pick(rng, words)
    if kind is None:
        kind = rng.randrange(3)
    if kind == 0:
        return f"Sure! Here is what I know about {a} and {b}. In short, {c} matters more than {a} here."
    if kind == 1:
        # Single quotes, an unquoted key, a trailing comma and no closing brace: JSON-ish, not JSON.
        return f'{{\'{a}\': "{b} {c}", {b}: [1, 2,], "note": "{c}'
    return f"## {a.capitalize()}\n\n- {b} and {c}\n- more on {a}\n\n**Note:** this is markdown, not JSON."


def truncate(text: str, value: Any) -> str:
    """About the first half of a JSON text, which a JSON parser rejects.

    The prefix of an object, array, string, boolean or null never parses; a number's prefix can
    (``12`` of ``1234``), so a dangling exponent marker spoils it.
    """
    cut = text[: len(text) // 2]
    if isinstance(value, int | float) and not isinstance(value, bool):
        cut += "e"
    return cut
