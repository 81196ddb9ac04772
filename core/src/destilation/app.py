"""The application: settings, plugins and store, assembled once per command.

The CLI and UI plugins use this instead of wiring things themselves, so every front end
reports the same errors and finds the same data.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import attrs
from anyio.abc import SocketStream

from destilation.config import JobSpec, Settings, load_settings, spec_from_record
from destilation.domain import JSON, JobRecord, JobState, TaskState
from destilation.engine import ALREADY_DONE
from destilation.engine.assembly import Prepared, Wiring, build_loop, share, slots_for
from destilation.engine.attempts import Hooks, remember_fingerprints
from destilation.engine.channel import Channel
from destilation.engine.exporter import Exporter
from destilation.engine.forking import WorkerProcess
from destilation.engine.lanes import WorkerLane
from destilation.engine.planner import InputsPlanner, make_planner
from destilation.engine.runner import JobRunner, RunOutcome, new_owner, on_commit_waker
from destilation.engine.wiring import (
    build_providers,
    build_router,
    build_validators,
    check_capabilities,
    check_providers,
    check_sinks,
    resolve_template,
)
from destilation.engine.writer import BatchWriter
from destilation.errors import ConfigError, JobError, PluginError
from destilation.events import EventBus
from destilation.http import make_http_client
from destilation.interfaces import PluginContext, Sink, StateStore
from destilation.plugins import DestilationPluginManager
from destilation.registry import Registry, collect
from destilation.templates import Template


def store_scheme(url: str) -> str:
    """`postgresql+psycopg://…` → `postgresql`; a string without a scheme is not a database URL."""
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme or not scheme.replace("+", "").isalnum():
        raise ConfigError(
            "--db", f"{url!r} is not a database URL (expected sqlite:///path/to/file.db or postgresql://host/db)"
        )
    return scheme.split("+", 1)[0].lower()


@attrs.define
class App:
    pm: DestilationPluginManager
    settings: Settings
    store_url: str
    data_dir: str
    _registry: Registry | None = None
    verbosity: int = 0
    """Handed to plugins in their context: -1 quiet, 0 progress, 1 verbose (``destiler run -q/-v``)."""

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = collect(self.pm)
        return self._registry

    def context(self, bus: EventBus) -> PluginContext:
        return PluginContext(
            data_dir=self.data_dir, emit=bus.emit, http_client=make_http_client, verbosity=self.verbosity
        )

    def make_store(self, context: PluginContext) -> StateStore:
        try:
            reg = self.registry.get("stores", store_scheme(self.store_url))
        except PluginError as exc:
            raise ConfigError("--db", str(exc)) from None
        store: StateStore = reg.obj(self.store_url, context)
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
        """Everything `run` checks before sending a request, without side effects."""
        check_providers(spec, self.registry, source)
        return self._wire(spec, source, self.context(EventBus())).template

    def _wire(self, spec: JobSpec, source: str, context: PluginContext) -> Wiring:
        """Build what a job file names (providers aside); every config mistake surfaces here."""
        registry = self.registry
        store_scheme(self.store_url)
        template = resolve_template(spec, registry, source)
        return Wiring(
            template=template,
            validators=build_validators(spec, template, registry, context, source),
            router=build_router(spec, registry, context, source),
            sinks=check_sinks(spec, registry, source),
            planner=make_planner(spec),
        )

    def prepare(self, spec: JobSpec, source: str) -> Prepared:
        """Wire the job and build its providers: every config mistake surfaces here, before the store."""
        registry = self.registry
        bus = EventBus()
        context = self.context(bus)
        wiring = self._wire(spec, source, context)
        for reg in registry.table("subscribers").values():
            subscriber = reg.obj(context)
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
        workers: list[WorkerProcess] | None = None,
        owner: str | None = None,
    ) -> RunOutcome:
        """Run the job; `workers` are processes forked after `prepare` that take their share of it."""
        prepared = prepared or self.prepare(spec, source)
        workers = workers or []
        owner = owner or new_owner()
        bus, context, planner = prepared.bus, prepared.context, prepared.wiring.planner
        async with AsyncExitStack() as stack:
            for provider in prepared.providers:
                stack.push_async_callback(provider.aclose)
            lanes = await self._lanes(stack, workers)
            store = prepared.store
            await stack.enter_async_context(store)
            await store.open()
            await store.lock_runner(spec.name, owner)
            target, task_limit = spec.count, spec.task_limit
            if isinstance(planner, InputsPlanner):
                rows = planner.count()
                target, task_limit = min(spec.count, rows), rows
            record = await self._job_record(store, spec, raw, target, resume=resume)
            sinks: list[Sink] = []
            exporters: list[Exporter] = []
            for name, reg, config in prepared.wiring.sinks:
                sink = reg.obj(config, context, record)
                stack.push_async_callback(sink.aclose)
                sinks.append(sink)
                exporters.append(Exporter(store, spec.name, name, sink))
            if record.state is JobState.DONE:
                return await self._refresh_done(store, record, sinks, exporters)
            await store.set_job_state(spec.name, JobState.RUNNING, "running")
            record = await store.get_job(spec.name) or record
            # With workers committing too, sequence numbers interleave and the exporters read from
            # the store anyway: handing them this process's samples would only be copied and dropped.
            writer = BatchWriter(store, owner, on_commit=None if lanes else on_commit_waker(exporters))
            for lane in lanes:
                lane.start()
            parts = 1 + len(lanes)
            runner = JobRunner(
                spec=spec,
                record=record,
                store=store,
                planner=planner,
                target=target,
                task_limit=task_limit,
                loop=build_loop(prepared, store, writer, parts),
                writer=writer,
                exporters=exporters,
                sinks=sinks,
                bus=bus,
                owner=owner,
                workers=share(slots_for(spec), parts),
                lanes=lanes,
                handle_signals=handle_signals,
            )
            return await runner.run()

    async def _lanes(self, stack: AsyncExitStack, workers: list[WorkerProcess]) -> list[WorkerLane]:
        """A lane per forked worker; leaving the run closes its socket, which ends the worker."""
        lanes: list[WorkerLane] = []
        for process in workers:
            channel = Channel(await SocketStream.from_socket(process.sock))
            stack.push_async_callback(process.reap)
            stack.push_async_callback(channel.aclose)
            lanes.append(WorkerLane(process, channel))
        return lanes

    async def _refresh_done(
        self, store: StateStore, record: JobRecord, sinks: list[Sink], exporters: list[Exporter]
    ) -> RunOutcome:
        """A done job sends no request; its datasets are only repaired (rebuilt if missing) and refreshed."""
        for exporter in exporters:
            await exporter.open()
            await exporter.catch_up()
        counts = await store.counts(record.name)
        for sink in sinks:
            await sink.finalize(record, counts)
        accepted, rejected = counts[TaskState.ACCEPTED], counts[TaskState.REJECTED]
        return RunOutcome(JobState.DONE, record.target, accepted, rejected, ALREADY_DONE)

    async def _job_record(
        self, store: StateStore, spec: JobSpec, raw: dict[str, JSON], target: int, *, resume: bool
    ) -> JobRecord:
        record = await store.get_job(spec.name)
        if record is None:
            if resume:
                raise JobError(f"no job named {spec.name!r} in {self.store_url}")
            return await store.create_job(spec.name, raw, target)
        if record.state is JobState.CANCELLED:
            raise JobError(f"job {spec.name!r} was cancelled; start it again under another name")
        if not resume and record.spec != raw and record.state is not JobState.DONE:
            raise JobError(
                f"job {spec.name!r} already exists with another spec ({record.state.value}); "
                f"`destiler resume {spec.name}` continues it, or give this job another name"
            )
        return record

    def spec_of(self, record: JobRecord) -> JobSpec:
        return spec_from_record(dict(record.spec), f"job {record.name} (stored spec)")


def make_app(pm: DestilationPluginManager, *, config: Path | None, db: str | None, data_dir: str | None) -> App:
    settings, _ = load_settings(config)
    if data_dir is not None:
        settings = attrs.evolve(settings, data_dir=data_dir)
    store_url = db or settings.store_url
    return App(pm, settings, store_url, settings.data_dir)
