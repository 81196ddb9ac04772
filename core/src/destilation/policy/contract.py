"""The interface the engine codes against: one `CallPolicy` per provider and process."""

from __future__ import annotations

import abc
from collections.abc import Callable

from destilation.domain import Circuit, Event, Generation, GenerationRequest, ProviderHealth, Usage
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

    # Sharing limits with the job's other processes (`policy.peers`); a policy without limits to
    # share keeps these defaults.

    def expect_peers(self) -> None:
        """Hold paced requests back until `join` (the first share must count the processes starting too)."""
        return

    def join(self, members: int, *, others_sent: bool) -> None:
        """Start as one of `members` processes; `others_sent`: others sent in the last rate window."""
        return

    def share(self, members: int) -> None:
        """Hold this process's share of the limits while `members` processes work the job."""
        return

    def follow(self, peer: ProviderHealth) -> None:
        """Take another process's hold and open circuit (its fresh health row) as this one's own."""
        return

    def signals(self) -> tuple[float | None, Circuit]:
        """What the other processes follow: (held until, epoch seconds, or None; circuit)."""
        return None, Circuit.CLOSED


Classify = Callable[[BaseException, str], str | None]
"""The `classify_error` hook: (error, provider name) → an `ErrorAction` or its string."""
Emit = Callable[[Event], None]
EstimateCost = Callable[[str, str, Usage], float | None]
"""The `estimate_cost` hook: (provider name, model, usage) → USD, for answers that report no cost."""
