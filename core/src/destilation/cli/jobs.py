"""`destiler jobs`: every job in the store, one line each."""

from __future__ import annotations

import click

from destilation.cli.show import job_summary
from destilation.cli.state import CliState, emit_json, json_option, pass_state, table
from destilation.interfaces import StateStore, StoreMissing


@click.command()
@json_option
@pass_state
def jobs(state: CliState, as_json: bool) -> None:
    """List jobs with their state and progress."""

    async def work(store: StateStore) -> tuple[str, list[dict[str, object]]]:
        records = await store.list_jobs()
        return store.url, [await job_summary(store, record, state.app.data_dir) for record in records]

    try:
        where, summaries = state.with_store(work)
    except StoreMissing as exc:  # nothing has run here yet: say where we looked, create nothing
        if as_json:
            emit_json([])
        else:
            click.echo(f"no jobs: {exc}")
        return
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        click.echo(f"no jobs in {where} yet: `destiler run JOB.toml` starts one")
        return
    rows = [(s["name"], s["state"], f"{s['accepted']}/{s['target']}", s["rejected"]) for s in summaries]
    table(rows, ("JOB", "STATE", "ACCEPTED", "REJECTED"))
