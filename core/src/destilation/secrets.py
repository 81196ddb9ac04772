"""A string type for API keys that never shows its value in reprs, logs, events or errors.

A `Secret` can never hold the redaction marker: a value masked for storage cannot come back as a
key, so a key read back from the store is refused instead of sent as ``Bearer ***``.
"""

from __future__ import annotations

REDACTED = "***"
"""What every masked value becomes, in the store, events, messages and datasets."""
MIN_KNOWN_SECRET = 6
"""Shorter secret values are not searched for in free text: they would mask ordinary words."""

_known: set[str] = set()


class RedactedValueError(ValueError):
    """A masked value was given where a secret is needed."""


def known_secrets() -> frozenset[str]:
    """The values of the secrets this process holds, long enough to look for in free text."""
    return frozenset(_known)


class Secret:
    """Holds a secret; only `reveal()` gives the value, and only code that sends it calls that."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if REDACTED in value:
            raise RedactedValueError("this value was redacted for storage; give the secret itself, not its masked copy")
        self._value = value
        if len(value) >= MIN_KNOWN_SECRET:
            _known.add(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__
