"""Provider failures sorted two ways: the default action (the `classify_error` hook's core
answer) and the error class counted in the provider's health row."""

from __future__ import annotations

from destilation.interfaces import ProviderError
from destilation.policy.actions import ErrorAction
from destilation.redaction import redact_text

AUTH = frozenset({401, 402, 403})
OVERLOADED = frozenset({429, 503, 529})
TIMEOUTS = frozenset({408, 504, 524})
ERROR_CLASSES = ("rate_limited", "server", "timeout", "transport", "auth", "refused", "other")
MAX_LINE = 300


def default_action(error: BaseException) -> ErrorAction:
    """401/402/403 and a `fatal` error abort; 429/503/529 or a retry_after back off; other
    retryable errors retry; the rest (400, 404, …: this provider will not serve this request)
    fail over. An exception that is not a ProviderError (a bug, a stray OSError) is retried."""
    if not isinstance(error, ProviderError):
        return ErrorAction.RETRY
    if error.status in AUTH or error.fatal:
        return ErrorAction.ABORT
    if error.status in OVERLOADED or error.retry_after is not None:
        return ErrorAction.BACKOFF
    return ErrorAction.RETRY if error.retryable else ErrorAction.FAILOVER


def as_action(value: object) -> ErrorAction | None:
    """The action a hook answered, or None when it is none of them."""
    try:
        return ErrorAction(str(value))
    except ValueError:
        return None


def error_class(error: BaseException) -> str:
    """One of `ERROR_CLASSES`: by HTTP status when there is one, else by the exception's kind."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        if status == 429:
            return "rate_limited"
        if status in AUTH:
            return "auth"
        if status in TIMEOUTS:
            return "timeout"
        return "server" if status >= 500 else "refused"
    names = {kind.__name__ for cause in _chain(error) for kind in type(cause).__mro__}
    if names & {"TimeoutError", "TimeoutException"}:
        return "timeout"
    if names & {"OSError", "TransportError"}:
        return "transport"
    return "other"


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what it was raised from or during (providers often raise `from None`)."""
    seen = [error]
    while len(seen) < 4:
        cause = seen[-1].__cause__ or seen[-1].__context__
        if cause is None or cause in seen:
            break
        seen.append(cause)
    return seen


def one_line(error: BaseException, provider: str) -> str:
    """The error as one redacted line, without the provider's name repeated in front."""
    text = " ".join(str(error).split()) or type(error).__name__
    for prefix in (f"{provider}: ", f"provider {provider}: "):
        text = text.removeprefix(prefix)
    text = redact_text(text)
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


HINTS = {401: " (check its api_key)", 403: " (check its api_key)", 402: " (check its credits)"}


def abort_message(error: BaseException, provider: str) -> str:
    """Why the job stops, naming the provider and what to check."""
    status = error.status if isinstance(error, ProviderError) else None
    line = one_line(error, provider)
    if status in AUTH and f"HTTP {status}" not in line:
        line = f"HTTP {status}: {line}"
    hint = HINTS.get(status, "") if status is not None else ""
    return f"provider {provider}: {line}{hint}"
