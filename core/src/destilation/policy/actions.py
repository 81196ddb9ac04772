"""What a provider failure calls for, and the two exceptions the engine sees from the policy."""

from __future__ import annotations

import enum
from typing import Any

from destilation.interfaces import ProviderError


class ErrorAction(enum.StrEnum):
    """What a provider failure calls for; `classify_error` answers one of these.

    A StrEnum, so a plugin's hook may answer the plain string (``"failover"``) as well.
    """

    RETRY = "retry"
    """Send the same request again after a short jittered backoff."""
    BACKOFF = "backoff"
    """Hold the whole provider back (its `Retry-After`, or backoff), then send again."""
    FAILOVER = "failover"
    """Give this request up here; the engine routes the task to another provider."""
    ABORT = "abort"
    """Nothing sent again can help (bad key, no credits): the job stops with the reason."""


class ProviderUnavailable(ProviderError):
    """The policy gave up on one request (retries or deadline spent, circuit open, failover asked).

    The engine gives the task to the next eligible provider of its route; it is not an attempt.
    `refused` says the provider answered and will not serve this request (a 400, a model it does
    not have): sent again it gets the same answer, so waiting for the provider cannot help.
    """

    def __init__(self, message: str, *, refused: bool = False, **options: Any) -> None:
        super().__init__(message, **options)
        self.refused = refused


class ProviderAborted(ProviderError):
    """A failure that stops the job: the message names the provider and the cause, in one line."""
