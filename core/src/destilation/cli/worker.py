"""`destiler worker [JOB …]` works jobs of a shared store; `destiler workers [JOB]` lists who works them."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import anyio
import attrs
import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state, table
from destilation.errors import UnknownJobError
from destilation.interfaces import StateStore
from destilation.redaction import redact_url


@click.command()
@click.argument("jobs", nargs=-1)
@click.option("--db", help="State store URL of the jobs (the same PostgreSQL database as their `destiler run`).")
@pass_state
def worker(state: CliState, jobs: tuple[str, ...], db: str | None) -> None:
    """Work the running JOBS of the store (every running job when none is named), until stopped.

    A worker claims tasks, generates, validates and commits; the job's `destiler run` plans,
    writes the dataset and decides when the job is done. Secrets come from this machine's
    environment. With JOBS named it exits once each is finished; Ctrl-C or SIGTERM stops it
    cleanly (its tasks go back to the others at once; the jobs keep running).
    """
    from destilation.engine.service import WorkerService, check_named

    if db is not None:
        state.db = db
    app = state.app

    async def main() -> None:
        async with AsyncExitStack() as stack:
            store = await app.open_store(stack, create=False)
            missing = await check_named(store, jobs)
            if missing:
                where = redact_url(app.store_url)
                raise UnknownJobError(f"no job named {', '.join(repr(m) for m in missing)} in {where}")
            click.echo(
                f"worker serving {', '.join(jobs) if jobs else 'every running job'} of {redact_url(app.store_url)}"
            )
            await WorkerService(store, app.work, jobs, say=click.echo).serve()

    anyio.run(main)


@click.command()
@click.argument("job", required=False)
@json_option
@pass_state
def workers(state: CliState, job: str | None, as_json: bool) -> None:
    """List the processes working JOB (every job when none is named): host, pid, tasks in flight, samples/s."""

    async def work(store: StateStore) -> list[dict[str, object]]:
        now = time.time()
        found = await store.members(job)
        return [{**attrs.asdict(m), "silent_s": round(max(0.0, now - m.heartbeat_at), 1)} for m in found]

    members = state.with_store(work, job=job)
    if as_json:
        emit_json(members)
        return
    if not members:
        click.echo(f"no process is working {job!r}" if job else "no process is working a job")
        return
    rows = [
        (m["job"], m["kind"], m["host"], m["pid"], m["in_flight"], m["rate"], f"{m['silent_s']}s", m["owner"])
        for m in members
    ]
    table(rows, ("JOB", "KIND", "HOST", "PID", "IN FLIGHT", "SAMPLES/S", "LAST BEAT", "OWNER"))
