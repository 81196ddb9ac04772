"""What a provider failure calls for, and the two exceptions the engine sees from the policy."""

from __future__ import annotations

import enum

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
    """


class ProviderAborted(ProviderError):
    """A failure that stops the job: the message names the provider and the cause, in one line."""
