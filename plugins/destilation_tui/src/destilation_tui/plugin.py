"""Entry point of destilation-tui: adds the `tui` command to `destiler`."""

from __future__ import annotations

import click

from destilation import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    # The command module (and urwid) load only when `destiler` builds its group, never for a job.
    from destilation_tui.command import tui

    cli.add_command(tui)
