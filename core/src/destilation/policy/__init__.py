"""The call policy in front of every provider (DESIGN §8): the engine's only way to call a model.

A provider failure is the policy's business, never a task attempt: it sends the same request
again while its pacing allows, and what reaches the engine is an answer, `ProviderUnavailable`
(route the task elsewhere) or `ProviderAborted` (the job cannot go on).

This module holds the contract the engine codes against and `make_policy`, which builds the
policy of one provider. The implementation here is the simplest one that keeps the contract
(one concurrency limit, a few retries); the pacing, adaptive concurrency and circuit breaker
replace its inside without changing the contract.
"""

from __future__ import annotations

import abc
import enum
import time
from collections.abc import Callable

import anyio

from destilation.config import ProviderSpec
from destilation.domain import Circuit, Event, Generation, GenerationRequest, ProviderHealth
from destilation.interfaces import Provider, ProviderError


class ErrorAction(enum.StrEnum):
    """What a provider failure calls for; `classify_error` answers one of these."""

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


class CallPolicy(abc.ABC):
    """Every call to one provider passes through its policy; one object per provider and process."""

    name: str

    @abc.abstractmethod
    def available(self) -> bool:
        """False while the circuit is open: the router must not choose this provider."""

    @abc.abstractmethod
    async def generate(self, request: GenerationRequest) -> Generation:
        """The provider's answer, after as many transport retries as the policy allows.

        Raises `ProviderUnavailable` or `ProviderAborted`, never another exception.
        """

    @abc.abstractmethod
    async def probe(self) -> bool:
        """One small request while the circuit is open; True (and the circuit closes) when it answered."""

    @abc.abstractmethod
    def health(self, job: str, owner: str) -> ProviderHealth:
        """What the policy measured so far, as a row for the store."""


Classify = Callable[[BaseException, str], str]
Emit = Callable[[Event], None]


class SimplePolicy(CallPolicy):
    """A concurrency limit and `max_retries` plain retries; the contract's reference behaviour."""

    def __init__(self, provider: Provider, spec: ProviderSpec, *, parts: int, classify: Classify, emit: Emit) -> None:
        self.provider = provider
        info = provider.info()
        self.name = info.name
        self._model = info.model
        self._limit = max(1, -(-spec.concurrency // parts))
        self._limiter = anyio.CapacityLimiter(self._limit)
        self._classify = classify
        self._emit = emit
        self._retries = 3
        self._requests = 0
        self._successes = 0
        self._errors: dict[str, int] = {}

    def available(self) -> bool:
        return True

    async def generate(self, request: GenerationRequest) -> Generation:
        for tried in range(self._retries + 1):
            async with self._limiter:
                self._requests += 1
                try:
                    generation = await self.provider.generate(request)
                except Exception as exc:  # every provider failure is the policy's to decide on
                    action = self._classify(exc, self.name)
                    self._errors["other"] = self._errors.get("other", 0) + 1
                    if action == ErrorAction.ABORT:
                        raise ProviderAborted(f"{self.name}: {exc}", retryable=False) from None
                    if action == ErrorAction.FAILOVER or tried == self._retries:
                        raise ProviderUnavailable(f"{self.name}: {exc}") from None
                    delay = getattr(exc, "retry_after", None)
                else:
                    self._successes += 1
                    return generation
            await anyio.sleep(min(5.0, delay if delay is not None else 0.1 * 2**tried))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def probe(self) -> bool:
        return True

    def health(self, job: str, owner: str) -> ProviderHealth:
        return ProviderHealth(
            job=job,
            provider=self.name,
            owner=owner,
            model=self._model,
            requests=self._requests,
            successes=self._successes,
            errors=dict(self._errors),
            concurrency_limit=self._limit,
            in_flight=self._limiter.borrowed_tokens,
            circuit=Circuit.CLOSED,
            details=self.provider.health_details(),
            updated_at=time.time(),
        )


def make_policy(provider: Provider, spec: ProviderSpec, *, parts: int, classify: Classify, emit: Emit) -> CallPolicy:
    """The policy of one provider in one of `parts` processes working the job (each holds its share)."""
    return SimplePolicy(provider, spec, parts=parts, classify=classify, emit=emit)


__all__ = ["CallPolicy", "ErrorAction", "ProviderAborted", "ProviderUnavailable", "make_policy"]
