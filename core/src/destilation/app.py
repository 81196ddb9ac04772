"""The application: settings, plugins and store, assembled once per command.

The CLI and UI plugins use this instead of wiring things themselves, so every front end
reports the same errors and finds the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from destilation.config import JobSpec, Settings, load_settings, spec_body
from destilation.control import control_for
from destilation.domain import JSON, JobRecord, JobState, TaskState, Usage
from destilation.engine import ALREADY_DONE
from destilation.engine.assembly import (
    Prepared,
    ProviderNames,
    Wiring,
    build_loop,
    check_validators,
    make_policies,
    open_validators,
    share,
    slots_for,
    validation_context,
)
from destilation.engine.attempts import Hooks, remember_fingerprints
from destilation.engine.exporter import Exporter, ExportRole
from destilation.engine.forking import ForkedWorker
from destilation.engine.planner import InputsPlanner, Planner, check_inputs, make_planner
from destilation.engine.runner import ROLE_WAIT_MARGIN, JobRunner, RunOutcome, new_owner, on_commit_waker
from destilation.engine.service import open_worker_runner
from destilation.engine.wiring import (
    build_mode,
    build_providers,
    build_router,
    build_validators,
    call_factory,
    check_capabilities,
    check_plugins_loaded,
    check_sinks,
    resolve_template,
)
from destilation.engine.writer import BatchWriter
from destilation.errors import ConfigError, JobError, PluginError
from destilation.estimate import Estimate, estimate_job
from destilation.events import EventBus
from destilation.interfaces import PluginContext, Provider, Sink, StateStore, ValidationContext
from destilation.plugins import DestilationPluginManager
from destilation.redaction import redact_url
from destilation.registry import Registry, collect
from destilation.restore import restore_spec
from destilation.spec_changes import changed_keys
from destilation.templates import Template

if TYPE_CHECKING:
    from destilation.http import HttpClient


def _make_http_client(**options: Any) -> HttpClient:
    """`destilation.http.make_http_client`, imported on first use: httpx costs ~40 ms of every
    start, and `show`, `pause` or a job without an HTTP provider never builds a client."""
    from destilation.http import make_http_client

    return make_http_client(**options)


def store_scheme(url: str) -> str:
    """`postgresql+psycopg://…` → `postgresql`; a string without a scheme is not a database URL."""
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme or not scheme.replace("+", "").isalnum():
        raise ConfigError(
            "--db",
            f"{redact_url(url)!r} is not a database URL (expected sqlite:///path/to/file.db or postgresql://host/db)",
        )
    return scheme.split("+", 1)[0].lower()


def is_memory_store(url: str) -> bool:
    """`sqlite://` and `sqlite:///:memory:`: a database only the process that opens it can see."""
    scheme, _, rest = url.partition("://")
    return scheme.split("+", 1)[0].lower() == "sqlite" and rest.split("?", 1)[0] in ("", "/", "/:memory:")


@attrs.define
class App:
    pm: DestilationPluginManager
    settings: Settings
    store_url: str
    data_dir: str
    config_path: Path | None = None
    """The global config file in use, if one was found; resume falls back to the job's own."""
    _registry: Registry | None = None
    verbosity: int = 0
    """Handed to plugins in their context: -1 quiet, 0 progress, 1 verbose (``destiler run -q/-v``)."""

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = collect(self.pm)
        return self._registry

    def context(self, bus: EventBus, job: str = "") -> PluginContext:
        return PluginContext(
            data_dir=self.data_dir, emit=bus.emit, http_client=_make_http_client, verbosity=self.verbosity, job=job
        )

    def make_store(self, context: PluginContext) -> StateStore:
        try:
            reg = self.registry.get("stores", store_scheme(self.store_url))
        except PluginError as exc:
            raise ConfigError("--db", str(exc)) from None
        store: StateStore = call_factory(reg, "store", self.store_url, context, returns=StateStore)
        return store

    async def open_store(
        self, stack: AsyncExitStack, bus: EventBus | None = None, *, create: bool = True
    ) -> StateStore:
        """Open the store for the rest of `stack`; with ``create=False`` a missing one raises StoreMissing."""
        store = self.make_store(self.context(bus or EventBus()))
        await stack.enter_async_context(store)
        await store.open(create=create)
        return store

    def check(self, spec: JobSpec, source: str) -> Template:
        """Everything `run` checks before it touches the store, without sending a request.

        The providers are built (a factory opens no connection) so a missing key is found, the
        inputs file is read to its last row, and the store is built but not opened.
        """
        context = self.context(EventBus())
        wiring = self._wire(spec, source, context)  # reads an inputs file to its last row
        providers = build_providers(spec, self.registry, context, source)
        try:
            check_capabilities(wiring.template, providers, source)
        finally:
            anyio.run(_close_all, providers)
        store = self.make_store(context)
        pm = self.pm
        vctx = ValidationContext(
            spec.name,
            wiring.template,
            store,
            lambda content: pm.hook.fingerprint(sample_content=content),
            ProviderNames(list(spec.providers)),
        )
        anyio.run(check_validators, wiring.validators, vctx, source)
        return wiring.template

    def estimate(self, spec: JobSpec, source: str) -> Estimate:
        """`run --estimate`: the job wired and its providers built as `check` does, then priced.

        Nothing is sent and no store is opened or created; building the providers lets their
        plugins learn the configured prices the `estimate_cost` hook answers from.
        """
        context = self.context(EventBus())
        wiring = self._wire(spec, source, context)
        providers = build_providers(spec, self.registry, context, source)
        try:
            check_capabilities(wiring.template, providers, source)
        finally:
            anyio.run(_close_all, providers)
        pm = self.pm

        def price(name: str, model: str, usage: Usage) -> float:
            cost: float | None = pm.hook.estimate_cost(provider=name, model=model, usage=usage)
            return cost or 0.0

        return estimate_job(spec, wiring.template, wiring.planner, price)

    def build_providers(self, spec: JobSpec, source: str) -> list[Provider]:
        """The job's providers, built as `check` builds them, for `check --probe` to open and ask."""
        return build_providers(spec, self.registry, self.context(EventBus(), spec.name), source)

    def _wire(self, spec: JobSpec, source: str, context: PluginContext) -> Wiring:
        """Build what a job file names (providers aside); every config mistake surfaces here."""
        check_plugins_loaded(self.pm)
        registry = self.registry
        store_scheme(self.store_url)
        template = resolve_template(spec, registry, source)
        planner = make_planner(spec, source)
        if isinstance(planner, InputsPlanner):
            check_inputs(planner, spec, template, source)
        mode = build_mode(spec, template, registry, context, source)
        return Wiring(
            template=template,
            mode=mode,
            validators=build_validators(spec, template, registry, context, source, mode),
            router=build_router(spec, registry, context, source),
            sinks=check_sinks(spec, registry, source),
            planner=planner,
        )

    def prepare(self, spec: JobSpec, source: str) -> Prepared:
        """Wire the job and build its providers: every config mistake surfaces here, before the store."""
        registry = self.registry
        bus = EventBus(spec.name)
        context = self.context(bus, spec.name)
        wiring = self._wire(spec, source, context)
        for reg in registry.table("subscribers").values():
            subscriber = call_factory(reg, "subscriber", context)
            if subscriber is not None:
                bus.subscribe(reg.name, subscriber)
        providers = build_providers(spec, registry, context, source)
        check_capabilities(wiring.template, providers, source)
        pm = self.pm
        hooks = Hooks(
            # Remembered for more answers than are in flight: one is fingerprinted at validation
            # and again when its sample is built, with other tasks' validations in between.
            fingerprint=remember_fingerprints(
                lambda content: pm.hook.fingerprint(sample_content=content), size=2 * slots_for(spec)
            ),
            classify_error=lambda exc, name: pm.hook.classify_error(error=exc, provider=name),
            estimate_cost=lambda name, model, usage: pm.hook.estimate_cost(provider=name, model=model, usage=usage),
        )
        # Built (not opened) here, so its imports happen once, before worker processes fork.
        store = self.make_store(context)
        return Prepared(spec, bus, context, wiring, providers, hooks, store)

    async def run(
        self,
        spec: JobSpec,
        raw: dict[str, JSON],
        source: str,
        *,
        resume: bool,
        handle_signals: bool = True,
        prepared: Prepared | None = None,
        forked: list[ForkedWorker] | None = None,
        owner: str | None = None,
    ) -> RunOutcome:
        """Run the job; `forked` are workers forked after `prepare` (engine.forking) that take their share of it."""
        prepared = prepared or self.prepare(spec, source)
        forked = forked or []
        owner = owner or new_owner()
        bus, context, planner = prepared.bus, prepared.context, prepared.wiring.planner
        async with AsyncExitStack() as stack:
            for provider in prepared.providers:
                stack.push_async_callback(provider.aclose)
            for worker in forked:  # leaving the run closes its socket, which ends the worker
                stack.push_async_callback(worker.reap)
            store = prepared.store
            await stack.enter_async_context(store)
            await store.open()
            parts = 1 + len(forked)
            policies = make_policies(prepared, parts)
            # Before the job is stored: a validator refusing it (a judge naming no provider of
            # the job) leaves nothing behind that a corrected job file would clash with.
            vctx = validation_context(prepared, store, policies)
            await open_validators(stack, prepared.wiring.validators, vctx, source)
            await store.lock_runner(spec.name, owner)
            task_limit = task_limit_of(spec, planner)
            target = spec.count
            record = await self._job_record(store, spec, raw, target, source, resume=resume)
            # Built, not opened: only the holder of the job's exporter role touches the dataset files.
            exporters: list[Exporter] = []
            for name, reg, config in prepared.wiring.sinks:
                sink: Sink = call_factory(reg, "sink", config, context, record, returns=Sink)
                stack.push_async_callback(sink.aclose)
                exporters.append(Exporter(store, spec.name, name, sink))
            export = ExportRole(store, spec.name, owner, spec.lease_seconds, exporters, bus.emit)
            stack.push_async_callback(export.release)
            if record.state is JobState.DONE:
                return await self._refresh_done(store, record, export, spec.lease_seconds)
            # With workers committing too, sequence numbers interleave and the exporters read from
            # the store anyway: handing them this process's samples would only be copied and dropped.
            writer = BatchWriter(store, owner, on_commit=None if forked else on_commit_waker(export))
            runner = JobRunner(
                spec=spec,
                record=record,
                store=store,
                planner=planner,
                target=target,
                task_limit=task_limit,
                loop=build_loop(prepared, store, writer, parts, policies),
                writer=writer,
                export=export,
                bus=bus,
                owner=owner,
                slots=share(slots_for(spec), parts),
                forked=forked,
                handle_signals=handle_signals,
                control=control_for(spec, task_limit),
            )
            return await runner.run()

    async def _refresh_done(
        self, store: StateStore, record: JobRecord, export: ExportRole, lease_s: float
    ) -> RunOutcome:
        """A done job sends no request; its datasets are only checked, repaired (rebuilt) and refreshed."""
        dataset = await export.settle(lease_s + 2 * ROLE_WAIT_MARGIN)
        counts = await store.counts(record.name)
        await export.finalize(record, counts)
        await export.release()
        accepted, rejected = counts[TaskState.ACCEPTED], counts[TaskState.REJECTED]
        return RunOutcome(JobState.DONE, record.target, accepted, rejected, ALREADY_DONE, dataset)

    async def _job_record(
        self, store: StateStore, spec: JobSpec, raw: dict[str, JSON], target: int, source: str, *, resume: bool
    ) -> JobRecord:
        """The job's record: created, continued as it was, or with its target raised (`count` went up).

        Any other change to a stored job's file is refused with the changed keys named: the job's
        samples were made under the stored settings.
        """
        record = await store.get_job(spec.name)
        if record is None:
            if resume:
                raise JobError(f"no job named {spec.name!r} in {redact_url(self.store_url)}")
            return await store.create_job(spec.name, raw, target)
        if record.state is JobState.CANCELLED:
            raise JobError(f"job {spec.name!r} was cancelled; start it again under another name")
        if resume:
            return record
        changed = changed_keys(spec_body(record.spec), spec_body(raw))
        if not changed:
            return record
        count_up = spec.count > _stored_count(record)
        if all((key == "$.count" and count_up) or _is_budget_key(key) for key in changed):
            # More samples, or other caps: the samples made so far stay valid under either.
            return await store.raise_target(spec.name, max(target, record.target), raw)
        raise ConfigError(
            source,
            f"job {spec.name!r} already exists with other settings (changed: {', '.join(changed)}); "
            f"resume it with `destiler resume {spec.name}` or give this job another name",
        )

    async def work(self, record: JobRecord, started: Callable[[JobRunner], None] = lambda _runner: None) -> RunOutcome:
        """Work a stored job as one of its workers (`destiler worker`): claim, generate, validate, commit.

        Built from the stored spec like `resume`, secrets from this process's environment. It
        never plans, exports or sets the job's state; `started` gets the runner once it is built,
        so the caller can stop it.
        """
        prepared = self.prepare(self.spec_of(record), f"job {record.name}")
        try:
            async with AsyncExitStack() as stack:
                runner = await open_worker_runner(stack, prepared, new_owner())
                started(runner)
                return await runner.run()
        finally:
            prepared.bus.close()

    def spec_of(self, record: JobRecord) -> JobSpec:
        """The stored job's spec for `resume`: secrets and lent providers from where they were given."""
        return restore_spec(record.name, record.spec, self.settings, self.config_path)


def _is_budget_key(key: str) -> bool:
    return key == "$.budget" or key.startswith("$.budget.")


def task_limit_of(spec: JobSpec, planner: Planner) -> int:
    """How many tasks the job may plan: `max_tasks` (three times count by default); for an inputs file
    without `repeat_rows`, at most one task per row (rejected rows are replaced by unused ones)."""
    if isinstance(planner, InputsPlanner) and not spec.repeat_rows:
        return min(planner.count(), spec.task_limit) if spec.max_tasks is not None else planner.count()
    return spec.task_limit


def _stored_count(record: JobRecord) -> int:
    """The `count` the job was stored with (its default when the file left it out)."""
    count = record.spec.get("count", attrs.fields(JobSpec).count.default)
    return count if isinstance(count, int) else record.target


async def _close_all(providers: list[Provider]) -> None:
    for provider in providers:
        await provider.aclose()


def make_app(pm: DestilationPluginManager, *, config: Path | None, db: str | None, data_dir: str | None) -> App:
    settings, config_path = load_settings(config)
    if data_dir is not None:
        settings = attrs.evolve(settings, data_dir=data_dir)
    store_url = db or settings.store_url
    return App(pm, settings, store_url, settings.data_dir, config_path)
