"""What a job is made of before it touches the store or an event loop, and how it splits over processes.

`Prepared` is built once, synchronously, so worker processes forked from the main process share
it; each process then builds its own attempt loop on it with its share of the slots and of each
provider's concurrency.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import attrs

from destilation.config import JobSpec
from destilation.domain import Generation, GenerationRequest
from destilation.engine.attempts import AttemptLoop, Hooks, NamedProviders
from destilation.engine.planner import Planner
from destilation.engine.wiring import ValidatorSlot, failover_enabled
from destilation.engine.writer import BatchWriter
from destilation.errors import ConfigError, DestilationError, JobError, PluginError
from destilation.events import EventBus
from destilation.interfaces import PluginContext, Provider, Router, StateStore, ValidationContext
from destilation.modes import Mode
from destilation.plugins import one_line
from destilation.policy import CallPolicy, make_policy
from destilation.registry import Registration
from destilation.templates import Template

AUTO_MIN_COUNT = 1000
"""Jobs smaller than this run in one process unless `processes` says otherwise: forking is not worth it."""
AUTO_MAX_PROCESSES = 4
AUTO_MIN_SLOTS = 32
"""Each process of an automatic split keeps at least this many requests in flight."""
AUTO_MIN_ROUNDS = 20
"""An automatic split needs at least this many rounds of requests (count / requests in flight).

Each process holds its share of the concurrency, so the last round can find one process still
waiting on its share while the other has nothing left: up to one round-trip more than one
process takes (1 000 samples at 100 in flight and 2 s: 23.8 s split, 21.8 s in one process; 2 000
at 500 and 2 s: 10.5 s against 8.7 s). Few rounds also mean the job waits on latency, not on a
core, so a split gains nothing there; over 20 rounds the tail is at most 5 % and a CPU-bound job
gains a core (20 000 samples at 0 ms and 1 000 in flight: 2.3 s split, 4.1 s in one process)."""
MAX_REQUESTS = 1000
"""The automatic slot count follows at most this many requests in flight, however many providers allow."""
MIN_SAMPLES_PER_PROCESS = 32
"""A process is forked for at most every this many samples: for fewer, wiring it costs more than it gives."""
HEADROOM = 0.5
"""Extra slots beyond the requests in flight, as a share of them (see `slots_for`)."""


@attrs.frozen
class Wiring:
    """The pieces of a job built from its spec, before any provider is called."""

    template: Template
    mode: Mode
    validators: list[ValidatorSlot]
    router: Router
    sinks: list[tuple[str, Registration, Any]]
    planner: Planner


@attrs.define
class Prepared:
    """A job wired and its providers built: everything but the store, the sinks and the event loop."""

    spec: JobSpec
    bus: EventBus
    context: PluginContext
    wiring: Wiring
    providers: list[Provider]
    hooks: Hooks
    store: StateStore
    """Not open yet: each process opens its own copy, after the fork."""


def in_flight(spec: JobSpec) -> int:
    """Requests a job keeps in flight: its providers' concurrency added up, or fewer `workers`."""
    concurrency = min(MAX_REQUESTS, sum(p.concurrency for p in spec.providers.values()))
    return min(spec.workers, concurrency) if spec.workers else concurrency


def slots_for(spec: JobSpec) -> int:
    """Tasks worked on at once, over all processes: `workers`, or the requests in flight and some headroom.

    A task keeps its slot while its answer is validated and committed, which needs no provider;
    the headroom's tasks wait at the provider's limit meanwhile, so a request goes out as soon as
    an answer comes back instead of a validation and a commit later (2 000 samples at 200 ms and
    500 in flight: about 7 % less job run time, median of 8 runs).
    """
    if spec.workers:
        return spec.workers
    requests = in_flight(spec)
    return requests + math.ceil(requests * HEADROOM)


def processes_for(spec: JobSpec) -> int:
    """How many processes work the job: the spec's `processes`, or a split sized to machine and job.

    The automatic split forks only for a job of many rounds (`AUTO_MIN_ROUNDS`). Either way no
    more than the job can use: one per `MIN_SAMPLES_PER_PROCESS` samples and one per slot
    (`processes = 1000` for 10 samples forks nothing).
    """
    if spec.processes is not None:
        wanted = spec.processes
    elif not hasattr(os, "fork") or spec.count < max(AUTO_MIN_COUNT, AUTO_MIN_ROUNDS * in_flight(spec)):
        return 1
    else:
        wanted = min(os.cpu_count() or 1, AUTO_MAX_PROCESSES, in_flight(spec) // AUTO_MIN_SLOTS)
    return max(1, min(wanted, math.ceil(spec.count / MIN_SAMPLES_PER_PROCESS), slots_for(spec)))


def share(total: int, parts: int) -> int:
    """One process's share of `total` when `parts` processes split it (at least 1)."""
    return max(1, math.ceil(total / parts))


def make_policies(prepared: Prepared, parts: int) -> dict[str, CallPolicy]:
    """One call policy per provider, holding this process's share of its pacing."""
    spec, hooks, bus = prepared.spec, prepared.hooks, prepared.bus
    return {
        provider.info().name: make_policy(
            provider, spec.providers[provider.info().name], parts=parts, classify=hooks.classify_error, emit=bus.emit
        )
        for provider in prepared.providers
    }


def validation_context(prepared: Prepared, store: StateStore, policies: dict[str, CallPolicy]) -> ValidationContext:
    """What validators see: the job's store and its providers by name, each call through its policy."""
    template, hooks = prepared.wiring.template, prepared.hooks
    return ValidationContext(prepared.spec.name, template, store, hooks.fingerprint, NamedProviders(policies))


async def open_validators(
    stack: AsyncExitStack, validators: Sequence[ValidatorSlot], vctx: ValidationContext, source: str = ""
) -> None:
    """Call each validator's optional ``open`` once in this process; its ``aclose`` runs when `stack` ends.

    A validator refusing the job (a judge naming no provider of it) raises a DestilationError,
    which passes, a ConfigError naming the job file `source`; any other crash becomes one line
    naming the validator.
    """
    for slot in validators:
        opener = getattr(slot.validator, "open", None)
        if opener is not None:
            try:
                await opener(vctx)
            except ConfigError as exc:
                if not source or exc.source == source:
                    raise
                said = str(exc).removeprefix(f"{exc.source}: ").removeprefix(f"{exc.path}: " if exc.path else "")
                raise ConfigError(source, said, exc.path) from None
            except DestilationError:
                raise
            except Exception as exc:
                raise PluginError(f"validator {slot.name!r} failed to open: {one_line(exc)}") from exc
        closer = getattr(slot.validator, "aclose", None)
        if closer is not None:
            stack.push_async_callback(closer)


@attrs.frozen
class ProviderNames:
    """The job's provider names for validators' ``open`` in ``destiler check``, which sends no request."""

    providers: Sequence[str]

    def names(self) -> Sequence[str]:
        return list(self.providers)

    async def generate(self, provider: str, request: GenerationRequest) -> Generation:
        raise JobError(f"destiler check sends no request (a validator asked {provider!r} while opening)")


async def check_validators(validators: Sequence[ValidatorSlot], vctx: ValidationContext, source: str) -> None:
    """Open and close the validators as a run would, for `destiler check` to report what they refuse."""
    async with AsyncExitStack() as stack:
        await open_validators(stack, validators, vctx, source)


def build_loop(
    prepared: Prepared,
    store: StateStore,
    writer: BatchWriter,
    parts: int,
    policies: dict[str, CallPolicy] | None = None,
) -> AttemptLoop:
    """The attempt loop of one process, with one call policy per provider holding its share of the pacing.

    `policies` are those `open_validators` was given, when it ran first: one policy per provider.
    """
    spec, template, hooks, bus = prepared.spec, prepared.wiring.template, prepared.hooks, prepared.bus
    if policies is None:
        policies = make_policies(prepared, parts)
    infos = [policy.info for policy in policies.values()]
    routed = [i for i in infos if spec.providers[i.name].route and set(template.capabilities) <= i.capabilities]
    return AttemptLoop(
        spec=spec,
        template=template,
        mode=prepared.wiring.mode,
        policies=policies,
        infos=routed,
        router=prepared.wiring.router,
        validators=prepared.wiring.validators,
        vctx=validation_context(prepared, store, policies),
        writer=writer,
        hooks=hooks,
        emit=bus.emit,
        failover=failover_enabled(spec),
    )
