"""`destiler tui [--db URL] [--job NAME]`: the dashboard command."""

from __future__ import annotations

import os
import sys
from contextlib import AsyncExitStack

import click

from destilation.cli.plugins import plugin_report
from destilation.cli.state import CliState, pass_state
from destilation.errors import DestilationError
from destilation.events import EventBus
from destilation.interfaces import StateStore


def on_terminal() -> bool:
    """Whether a person is there to see the dashboard: stdin and stdout are terminals."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def resume_env(store_url: str, data_dir: str, config: str | None) -> dict[str, str]:
    """The environment of a `destiler resume` started from the dashboard: its store, data dir, config.

    Passed through the environment, not the command line, so a store password never shows in `ps`.
    """
    env = {**os.environ, "DESTILATION_DB": store_url, "DESTILATION_DATA_DIR": data_dir}
    if config is not None:
        env["DESTILATION_CONFIG"] = config
    return env


@click.command()
@click.option("--db", help="State store URL (default: the global --db, or the SQLite file in the data dir).")
@click.option("--job", help="Open on this job's detail view.")
@pass_state
def tui(state: CliState, db: str | None, job: str | None) -> None:
    """Watch and steer every job in a terminal dashboard; it reads and writes only the store.

    It works beside a running job, from another terminal or another machine sharing the store.
    """
    import urwid  # only when the dashboard opens

    from destilation_tui import control, session
    from destilation_tui.dashboard import Dashboard

    if not on_terminal():
        raise DestilationError("destiler tui needs a terminal; use `destiler jobs` or `destiler show JOB` in scripts")
    if db is not None:
        state.db = db
    app = state.app
    app.make_store(app.context(EventBus()))  # a --db no store plugin can serve is bad input: one line, exit 2
    report = plugin_report(state.pm)
    plugins = [f"{p['name']} ({p['distribution']} {p['version']})" for p in report["plugins"]]  # type: ignore[attr-defined]
    config = str(app.config_path) if app.config_path is not None else None
    dashboard = Dashboard(
        store_url=app.store_url,
        data_dir=app.data_dir,
        plugins=plugins,
        job=job,
        resume=control.Resumer(env=resume_env(app.store_url, app.data_dir, config)),
    )

    async def open_store(stack: AsyncExitStack) -> StateStore:
        return await app.open_store(stack, create=False)

    session.run(dashboard, open_store, screen=urwid.display.raw.Screen(), no_color=bool(os.environ.get("NO_COLOR")))
