"""Make a job spec safe to publish next to a dataset: no secrets, only strict JSON.

The rules of what is secret live in the core's one redactor (`destilation.redact_text`,
`destilation.is_secret_key`); this module only adds the stricter policy for a file that leaves the
machine: the whole value under a secret-looking key is dropped (not only its strings), anything
that is not plain JSON is dropped, and NaN or infinity become text.
"""

from __future__ import annotations

import math
from typing import Any

from destilation import REDACTED, is_secret_key, redact_text

__all__ = ["REDACTED", "is_secret_key", "redact", "scrub"]

scrub = redact_text
"""Mask credentials a string carries inline (the core's redactor)."""


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
