"""Provider health for display: the rows every process wrote, added up per provider.

Each process working a job writes its own `ProviderHealth` row; the dashboard shows one line per
provider, so counts are summed, in-flight requests and concurrency limits added, latency shown
as the worst process's and the circuit as the least healthy one.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from destilation.domain import Circuit, ProviderHealth

_CIRCUIT_RANK = {Circuit.CLOSED: 0, Circuit.HALF_OPEN: 1, Circuit.OPEN: 2}


@attrs.frozen
class ProviderLine:
    provider: str
    model: str
    requests: int
    successes: int
    errors: int
    in_flight: int
    concurrency_limit: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    circuit: Circuit
    prompt_tokens: int
    completion_tokens: int
    cost: float
    last_error: str | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def _worst(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def provider_lines(rows: Iterable[ProviderHealth]) -> list[ProviderLine]:
    """One line per provider, sorted by name."""
    by_provider: dict[str, list[ProviderHealth]] = {}
    for row in rows:
        by_provider.setdefault(row.provider, []).append(row)
    lines = []
    for provider, group in sorted(by_provider.items()):
        newest = max(group, key=lambda r: r.updated_at)
        lines.append(
            ProviderLine(
                provider=provider,
                model=newest.model,
                requests=sum(r.requests for r in group),
                successes=sum(r.successes for r in group),
                errors=sum(sum(r.errors.values()) for r in group),
                in_flight=sum(r.in_flight for r in group),
                concurrency_limit=sum(r.concurrency_limit for r in group),
                latency_p50_s=_worst(r.latency_p50_s for r in group),
                latency_p95_s=_worst(r.latency_p95_s for r in group),
                circuit=max((r.circuit for r in group), key=_CIRCUIT_RANK.__getitem__),
                prompt_tokens=sum(r.prompt_tokens for r in group),
                completion_tokens=sum(r.completion_tokens for r in group),
                cost=sum(r.cost for r in group),
                last_error=newest.last_error,
            )
        )
    return lines
