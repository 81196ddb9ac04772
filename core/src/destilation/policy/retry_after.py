"""How long a provider asked us to wait, from the headers servers send for it."""

from __future__ import annotations

import datetime
import email.utils
import math
import time

EPOCH_MS = 1e11
"""Numbers at least this large are epoch milliseconds (OpenRouter's `X-RateLimit-Reset`); in
seconds that is the year 5138, in delta-seconds three thousand years."""
EPOCH_S = 1e9
"""Numbers at least this large (2001 onwards) are epoch seconds, not a delay."""


def retry_after_seconds(value: str | float | None, now: float | None = None) -> float | None:
    """Seconds to wait from `now` (epoch seconds, default the current time), or None if unknown.

    Accepts what `Retry-After` carries (delta-seconds or an HTTP date) and what rate-limit reset
    headers carry (epoch seconds or epoch milliseconds, as OpenRouter's `X-RateLimit-Reset`).
    A time already past gives 0; text that is none of these gives None.
    """
    if value is None:
        return None
    current = time.time() if now is None else now
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return _http_date(text, current)
    else:
        number = float(value)
    if not math.isfinite(number):
        return None
    if number >= EPOCH_MS:
        number = number / 1000.0 - current
    elif number >= EPOCH_S:
        number -= current
    return max(0.0, number)


def _http_date(text: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT even when it does not say so
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now)
