"""Provider health across processes: adding up the rows of one provider, and saying it in one line.

Every process working a job stores its own `ProviderHealth` row per provider (see
`StateStore.record_health`); `destiler show` and the dashboard read them all and merge them
here, so both tell the same story.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

import attrs

from destilation.domain import JSON, Circuit, ProviderHealth

_CIRCUIT_RANK = {Circuit.CLOSED: 0, Circuit.HALF_OPEN: 1, Circuit.OPEN: 2}
"""How bad a circuit state is: merging keeps the worst one any process sees."""


def merge_health(rows: Iterable[ProviderHealth]) -> list[ProviderHealth]:
    """One row per (job, provider), adding up the rows of every owner, sorted by job and provider.

    Counters, tokens, cost, in-flight requests and concurrency limits are summed (each process
    has its own limit, so the sum is what the provider sees), error counts are summed per
    class, the worst circuit state wins, and the latest ``held_until``, ``last_error`` and
    ``updated_at`` are kept. Latency quantiles cannot be merged from quantiles: the merged
    p50/p95 is the largest of the owners', an upper bound of the true one. ``owner`` lists the
    owners, comma-separated; ``model`` and ``details`` are those of the most recent row
    (details of older rows stay where the newer ones do not say otherwise).
    """
    groups: dict[tuple[str, str], list[ProviderHealth]] = {}
    for row in rows:
        groups.setdefault((row.job, row.provider), []).append(row)
    return [_merge(groups[key]) for key in sorted(groups)]


def _merge(rows: list[ProviderHealth]) -> ProviderHealth:
    rows = sorted(rows, key=lambda r: (r.updated_at, r.owner))  # oldest first: later rows overwrite
    latest = rows[-1]
    errors: dict[str, int] = {}
    details: dict[str, JSON] = {}
    for row in rows:
        for kind, n in row.errors.items():
            errors[kind] = errors.get(kind, 0) + n
        details.update(row.details)
    failed = [r for r in rows if r.last_error]
    held = [r.held_until for r in rows if r.held_until is not None]
    return ProviderHealth(
        job=latest.job,
        provider=latest.provider,
        owner=", ".join(sorted({r.owner for r in rows})),
        model=latest.model,
        requests=sum(r.requests for r in rows),
        successes=sum(r.successes for r in rows),
        retries=sum(r.retries for r in rows),
        failovers=sum(r.failovers for r in rows),
        errors=dict(sorted(errors.items())),
        latency_p50_s=_upper(r.latency_p50_s for r in rows),
        latency_p95_s=_upper(r.latency_p95_s for r in rows),
        concurrency_limit=sum(r.concurrency_limit for r in rows),
        in_flight=sum(r.in_flight for r in rows),
        circuit=max((r.circuit for r in rows), key=_CIRCUIT_RANK.__getitem__),
        held_until=max(held) if held else None,
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        cost=sum(r.cost for r in rows),
        last_error=failed[-1].last_error if failed else None,
        details=details,
        updated_at=latest.updated_at,
    )


def _upper(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def total_cost(rows: Sequence[ProviderHealth]) -> float:
    """What the job's providers charged so far, over every row."""
    return sum(r.cost for r in rows)


def health_to_json(row: ProviderHealth) -> dict[str, JSON]:
    """Every field of the row as plain JSON (the circuit as its name), for ``--json`` and dashboards."""
    data: dict[str, JSON] = attrs.asdict(row, recurse=False)
    data["errors"] = dict(row.errors)
    data["details"] = dict(row.details)
    data["circuit"] = row.circuit.value
    return data


def format_health(row: ProviderHealth, *, now: float | None = None) -> str:
    """One line for people: requests, errors by class, latency, concurrency, circuit, tokens, cost, details.

    A circuit held back until a time still to come (after `now`, when given) says until when.
    """
    parts = [f"{row.requests} requests", f"{row.successes} ok"]
    if row.errors:
        parts.append("errors " + ", ".join(f"{kind} {n}" for kind, n in sorted(row.errors.items())))
    else:
        parts.append("no errors")
    if row.retries or row.failovers:
        parts.append(f"{row.retries} retries, {row.failovers} failovers")
    parts.append(f"p50 {_seconds(row.latency_p50_s)} p95 {_seconds(row.latency_p95_s)}")
    parts.append(f"concurrency {row.concurrency_limit} ({row.in_flight} in flight)")
    parts.append(_circuit(row, now))
    parts.append(f"tokens {row.prompt_tokens} in, {row.completion_tokens} out")
    parts.append(f"cost {format_cost(row.cost)}")
    parts.extend(f"{key}: {_detail(value)}" for key, value in sorted(row.details.items()))
    return f"{row.provider}" + (f" ({row.model})" if row.model else "") + ": " + "; ".join(parts)


def format_cost(cost: float) -> str:
    return f"${cost:.4f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _circuit(row: ProviderHealth, now: float | None) -> str:
    text = f"circuit {row.circuit.value.replace('_', '-')}"
    if row.held_until is not None and (now is None or row.held_until > now):
        at = dt.datetime.fromtimestamp(row.held_until, dt.UTC).strftime("%H:%M:%S UTC")
        text += f", held back until {at}"
    return text


def _detail(value: JSON) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_detail(v)}" for k, v in value.items())
    return json.dumps(value)  # numbers, booleans and null as JSON spells them
