"""Make a job spec safe to publish next to a dataset: no secrets, only strict JSON.

The core already keeps API keys in `Secret` and out of the store; this is the second fence,
because a dataset is the one artefact that leaves the machine. A value is dropped when its key
looks secret (``api_key``, ``X-Api-Key``, ``Authorization``, ``access_token``, ``client_secret``,
``password`` …); credentials inside URLs and bearer tokens inside strings are masked too. Counters
such as ``max_tokens`` or ``tokens_per_minute`` stay: only the singular word ``token`` is secret.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

REDACTED = "<redacted>"

_SECRET_WORDS = frozenset(
    {"token", "secret", "secrets", "password", "passwd", "passphrase", "authorization", "auth", "apikey", "credential",
     "credentials", "cookie"}
)  # fmt: skip
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
_URL_USER = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|sig|signature)=)[^&#\s]*"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;]+")


def is_secret_key(key: object) -> bool:
    """Whether a key names a credential, by its words (``apiKey`` → api, key)."""
    words = _WORD.findall(_CAMEL.sub(r"\1_\2", str(key)).lower())
    if words == ["key"] or any(word in _SECRET_WORDS for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def scrub(text: str) -> str:
    """Mask credentials a string carries inline: ``user:pass@`` in URLs, ``?key=…``, bearer tokens."""
    text = _URL_USER.sub(rf"\1{REDACTED}@", text)
    text = _QUERY_SECRET.sub(rf"\1{REDACTED}", text)
    return _BEARER.sub(rf"\1 {REDACTED}", text)


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking keys masked, strings scrubbed and NaN/inf as text."""
    if isinstance(value, dict):
        return {str(k): REDACTED if is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (a Secret slipped through, a date) is published only as its redacting text form.
    return REDACTED
