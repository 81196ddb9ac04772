"""What every command shares: the plugin manager, global options and output helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs
import click

from destilation.domain import JSON, JobRecord
from destilation.errors import UnknownJobError
from destilation.interfaces import StateStore, StoreMissing
from destilation.plugins import DestilationPluginManager
from destilation.redaction import redact_url

if TYPE_CHECKING:
    from destilation.app import App

T = TypeVar("T")


@attrs.define
class CliState:
    """Global options, and the app built from them on first use."""

    pm: DestilationPluginManager
    config: Path | None = None
    db: str | None = None
    data_dir: str | None = None
    verbosity: int = 0
    """-1 quiet, 0 progress, 1 verbose: set by `run -q/-v` before the app is built."""
    _app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            from destilation.app import make_app  # the engine and HTTP stack load only when used

            self._app = make_app(self.pm, config=self.config, db=self.db, data_dir=self.data_dir)
            self._app.verbosity = self.verbosity
        return self._app

    def with_store(self, work: Callable[[StateStore], Awaitable[T]], *, job: str | None = None) -> T:
        """Open the store, run `work` with it, close it; for the read and steer commands.

        They never create a store (only `run` does): where there is none yet, StoreMissing says
        so, as "no job named JOB" when `job` is given.
        """

        async def main() -> T:
            async with AsyncExitStack() as stack:
                store = await self.app.open_store(stack, create=False)
                return await work(store)

        try:
            return anyio.run(main)
        except StoreMissing as exc:
            if job is None:
                raise
            raise StoreMissing(f"no job named {job!r}: {exc}") from None


pass_state = click.make_pass_decorator(CliState)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")


def emit_json(value: JSON) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print rows as aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


async def require_job(store: StateStore, name: str) -> JobRecord:
    """The job's record, or exit 2 with one line: a name that is not in the store is bad input."""
    record = await store.get_job(name)
    if record is None:
        raise UnknownJobError(f"no job named {name!r} in {redact_url(str(getattr(store, 'url', 'the store')))}")
    return record
