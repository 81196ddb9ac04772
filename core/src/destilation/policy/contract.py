"""The interface the engine codes against: one `CallPolicy` per provider and process."""

from __future__ import annotations

import abc
from collections.abc import Callable

from destilation.domain import Event, Generation, GenerationRequest, ProviderHealth, Usage
from destilation.interfaces import ProviderInfo


class CallPolicy(abc.ABC):
    """Every call to one provider passes through its policy; one object per provider and process."""

    name: str
    info: ProviderInfo
    """What its provider is (name, kind, model, capabilities)."""

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


Classify = Callable[[BaseException, str], str | None]
"""The `classify_error` hook: (error, provider name) → an `ErrorAction` or its string."""
Emit = Callable[[Event], None]
EstimateCost = Callable[[str, str, Usage], float | None]
"""The `estimate_cost` hook: (provider name, model, usage) → USD, for answers that report no cost."""
