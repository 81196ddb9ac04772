"""The call policy in front of every provider (DESIGN §8): the engine's only way to call a model.

A provider failure is the policy's business, never a task attempt: it sends the same request
again while its pacing allows, and what reaches the engine is an answer, `ProviderUnavailable`
(route the task elsewhere) or `ProviderAborted` (the job cannot go on).

The package holds the contract the engine codes against (`CallPolicy`, the actions and the two
exceptions), `make_policy`, which builds the policy of one provider, and
`retry_after_seconds`, which provider plugins use to read their servers' wait headers. The
pieces, one module each: rate windows, resizable slots, adaptive concurrency, the circuit
breaker, error classes, counters, and the policy that ties them together (`paced`).

Limits hold for the job, across every process and machine working it: each process's policy
holds a share of every limit (`shares`: shrink at once, grow only after a whole rate window, a
newcomer waits one window when others sent in it), and the runner's control loop tells
it, about once a second, how many processes are live and what holds and opened circuits the
others' health rows show (`peers`), which it then keeps as its own.
"""

from __future__ import annotations

from destilation.config import ProviderSpec
from destilation.interfaces import Provider
from destilation.policy.actions import ErrorAction, ProviderAborted, ProviderUnavailable
from destilation.policy.clock import Clock, ManualClock, SystemClock
from destilation.policy.contract import CallPolicy, Classify, Emit, EstimateCost
from destilation.policy.paced import ProviderPolicy, free
from destilation.policy.retry_after import retry_after_seconds


def make_policy(
    provider: Provider,
    spec: ProviderSpec,
    *,
    parts: int,
    classify: Classify,
    emit: Emit,
    estimate_cost: EstimateCost = free,
    clock: Clock | None = None,
    job: str = "",
) -> CallPolicy:
    """The policy of one provider in one of `parts` processes working the job (each holds its share).

    `estimate_cost` prices answers that report no cost (the `estimate_cost` hook; default free),
    `job` names the job in the events the policy emits, `clock` is for tests.
    """
    return ProviderPolicy(
        provider, spec, parts=parts, classify=classify, emit=emit, estimate_cost=estimate_cost, clock=clock, job=job
    )


__all__ = [
    "CallPolicy",
    "Classify",
    "Clock",
    "Emit",
    "ErrorAction",
    "EstimateCost",
    "ManualClock",
    "ProviderAborted",
    "ProviderPolicy",
    "ProviderUnavailable",
    "SystemClock",
    "make_policy",
    "retry_after_seconds",
]
