"""`destiler delete JOB [--data] [--yes]`: forget a job, and with `--data` its dataset folder too."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from destilation.cli.state import CliState, pass_state
from destilation.domain import JobRecord, TaskState
from destilation.errors import EXIT_JOB_FAILED, ConfigError, DestilationError, JobError
from destilation.interfaces import StateStore


def dataset_folder(data_dir: str, job: str) -> Path | None:
    """`<data-dir>/<job>/` if it is that job's folder, None if there is none.

    Only a real directory right inside the data dir qualifies: a symlink (followed, it would
    delete whatever it points at) or a file of that name is refused with one line.
    """
    folder = Path(data_dir) / job
    if folder.is_symlink():
        raise ConfigError(str(folder), "is a symlink, not a dataset folder; nothing deleted")
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise ConfigError(str(folder), "is not a directory, not a dataset folder; nothing deleted")
    if folder.resolve().parent != Path(data_dir).resolve():
        raise ConfigError(str(folder), f"is not inside the data dir {data_dir}; nothing deleted")
    return folder


def on_terminal() -> bool:
    """Whether a person can answer a prompt: stdin is a terminal."""
    return sys.stdin.isatty()


@click.command()
@click.argument("job")
@click.option("--data", is_flag=True, help="Also remove the job's dataset folder (<data-dir>/JOB/).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed when not on a terminal).")
@pass_state
def delete(state: CliState, job: str, data: bool, yes: bool) -> None:
    """Delete JOB from the store: its tasks, attempts, samples, cursors and events.

    Its dataset folder stays unless --data is given. A running job is refused: cancel it first.
    """

    async def look(store: StateStore) -> tuple[str, JobRecord, int]:
        record = await store.get_job(job)
        if record is None:
            raise DestilationError(f"no job named {job!r} in {store.url}")
        return store.url, record, (await store.counts(job))[TaskState.ACCEPTED]

    where, record, accepted = state.with_store(look, job=job)
    folder = dataset_folder(state.app.data_dir, job) if data else None
    if not yes:
        if not on_terminal():
            raise DestilationError(f"delete {job}: asks for confirmation; not on a terminal, add --yes to delete")
        what = f"job {job!r} ({record.state.value}, {accepted}/{record.target} samples accepted) from {where}"
        if folder is not None:
            what += f" and its dataset folder {folder}"
        if not click.confirm(f"Delete {what}?", err=True):
            click.echo("nothing deleted", err=True)
            raise SystemExit(EXIT_JOB_FAILED)

    # The store refuses (JobRunning, one line saying why) while a live runner may hold the job.
    if not state.with_store(lambda store: store.delete_job(job), job=job):  # deleted by someone else meanwhile
        raise DestilationError(f"no job named {job!r} in {where}")
    said = f"deleted job {job!r} from {where}"
    if folder is not None:
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            raise JobError(f"{said}, but its dataset folder {folder} could not be removed: {exc}") from None
        said += f" and its dataset folder {folder}"
    elif data:
        said += " (it had no dataset folder)"
    elif (Path(state.app.data_dir) / job).exists():
        said += f"; its dataset stays in {Path(state.app.data_dir) / job}"
    click.echo(said)
