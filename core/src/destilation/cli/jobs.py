"""`destiler jobs`: every job in the store, one line each."""

from __future__ import annotations

import click

from destilation.cli.show import job_summary
from destilation.cli.state import CliState, emit_json, json_option, pass_state, table
from destilation.interfaces import StateStore


@click.command()
@json_option
@pass_state
def jobs(state: CliState, as_json: bool) -> None:
    """List jobs with their state and progress."""

    async def work(store: StateStore) -> list[dict[str, object]]:
        return [await job_summary(store, record, state.app.data_dir) for record in await store.list_jobs()]

    summaries = state.with_store(work)
    if as_json:
        emit_json(summaries)
        return
    if not summaries:
        click.echo("no jobs yet: `destiler run JOB.toml` starts one")
        return
    rows = [(s["name"], s["state"], f"{s['accepted']}/{s['target']}", s["rejected"]) for s in summaries]
    table(rows, ("JOB", "STATE", "ACCEPTED", "REJECTED"))
