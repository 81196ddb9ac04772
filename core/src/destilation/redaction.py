"""One redactor for whatever may carry a credential: URLs, headers, free text and nested values.

Stored job specs, events, job messages, store URLs in messages, provider errors and published
datasets all pass through here, so a rule fixed once is fixed everywhere. It over-masks rather
than leak: a masked value is always the one marker `REDACTED`, which `Secret` refuses to hold, so
a masked value can never be sent as a key.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from destilation.secrets import REDACTED, Secret, known_secrets

__all__ = ["REDACTED", "is_secret_key", "redact_headers", "redact_text", "redact_tree", "redact_url", "redact_value"]

Path = tuple[str | int, ...]

_SECRET_WORDS = frozenset(
    {"token", "secret", "secrets", "password", "passwords", "passwd", "pwd", "passphrase", "authorization", "auth",
     "apikey", "credential", "credentials", "cookie", "sig", "signature"}
)  # fmt: skip
_SECRET_PAIRS = frozenset((first, key) for first in ("api", "private", "access", "secret") for key in ("key", "keys"))
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
_PURE_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
"""An environment reference without a default: safe to keep, it is filled again on load."""

_AUTHORITY = r"(?i)((?:\b[a-z][a-z0-9+.-]*:)?//)"
"""Where a URL's user information starts: after ``scheme://``, or ``//`` in a scheme-less URL."""
_USER_PASSWORD = re.compile(_AUTHORITY + r"([^\s/?#@:]*):(\S*)@")
_LONE_USER = re.compile(_AUTHORITY + r"([^\s/?#@:]{16,})@")
_QUERY_PAIR = re.compile(r"([?&;])([^=&#\s;?]+)=([^&#\s;]*)")
_SCHEME_TOKEN = re.compile(r"(?i)\b(bearer)(\s+)(?!\$\{|\*\*\*)([^\s,;\"']+)")
_BASIC_TOKEN = re.compile(r"(?i)\b(basic)(\s+)(?=[A-Za-z0-9+/]*[0-9+/=])([A-Za-z0-9+/]{4,}=*)")
_KEYED_VALUE = re.compile(
    r"(?i)([\"']?)\b(authorization|proxy-authorization|x-api-key|api[-_]?key|access[-_]?token|refresh[-_]?token"
    r"|client[-_]?secret|password|passwd|secret|token)\1(\s*[:=]\s*)([\"']?)"
    r"(?!\$\{|\*\*\*|bearer\b|basic\b)([^\s\"',;&}]+)"
)
_COOKIE = re.compile(r"(?i)\b((?:set-)?cookie)(\s*[:=]\s*)([^\r\n]+)")
_SK_KEY = re.compile(r"\bsk-(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{16,}")
_HEADER_SCHEMES = ("bearer ", "basic ", "token ", "digest ")


def is_secret_key(key: object) -> bool:
    """Whether a key names a credential, by its words (``apiKey`` → api, key; ``max_tokens`` is not)."""
    words = _WORD.findall(_CAMEL.sub(r"\1_\2", str(key)).lower())
    if words == ["key"] or any(word in _SECRET_WORDS for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def _mask_query(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if not value or value.startswith("${") or value == REDACTED or not is_secret_key(unquote(name)):
        return match.group(0)
    return f"{sep}{name}={REDACTED}"


def redact_url(url: str) -> str:
    """The URL with its password (the user name stays), secret query values and long lone user names masked."""
    url = _USER_PASSWORD.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", url)
    url = _LONE_USER.sub(lambda m: f"{m.group(1)}{REDACTED}@", url)
    return _QUERY_PAIR.sub(_mask_query, url)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (an error body, a message) with every credential it carries masked.

    Masks the values of known `Secret`s and of `secrets`, URL credentials, bearer and basic
    tokens, ``api_key: …``-style pairs, cookies and ``sk-…`` keys.
    """
    for value in sorted({*known_secrets(), *(s for s in secrets if s)}, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    text = redact_url(text)
    text = _SCHEME_TOKEN.sub(rf"\1\2{REDACTED}", text)
    text = _BASIC_TOKEN.sub(rf"\1\2{REDACTED}", text)
    text = _COOKIE.sub(rf"\1\2{REDACTED}", text)
    text = _KEYED_VALUE.sub(rf"\1\2\1\3\4{REDACTED}", text)
    return _SK_KEY.sub(REDACTED, text)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of HTTP headers with credential headers masked (``Bearer ***`` keeps its scheme)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    shown: dict[str, str] = {}
    for name, value in pairs:
        if is_secret_key(name):
            scheme = next((s for s in _HEADER_SCHEMES if value.lower().startswith(s)), "")
            shown[name] = f"{value[: len(scheme)]}{REDACTED}"
        else:
            shown[name] = redact_text(value)
    return shown


def redact_tree(value: Any, path: Path = ()) -> tuple[Any, list[Path]]:
    """A copy of nested data safe to store, and the paths of what was masked in it.

    Strings under secret-looking keys are masked unless they are a plain ``${ENV}`` reference;
    other strings lose the credentials they carry; numbers and booleans stay. A `Secret`
    anywhere is masked.
    """
    masked: list[Path] = []
    return _walk(value, path, secret=False, masked=masked), masked


def redact_value(value: Any) -> Any:
    """`redact_tree` without the paths."""
    return redact_tree(value)[0]


def _walk(value: Any, path: Path, *, secret: bool, masked: list[Path]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), secret=secret or is_secret_key(k), masked=masked) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, (*path, i), secret=secret, masked=masked) for i, v in enumerate(value)]
    if isinstance(value, str):
        shown = value if _PURE_REF.fullmatch(value) else REDACTED if secret else redact_text(value)
    elif isinstance(value, Secret):
        shown = REDACTED
    else:
        return value
    if shown != value:
        masked.append(path)
    return shown
