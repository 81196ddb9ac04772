"""Entry point of destilation-tui: adds the `tui` command to `destiler`."""

from __future__ import annotations

import click

from destilation import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    # Cheap: the command module imports urwid and the dashboard only when `destiler tui` runs.
    from destilation_tui.command import tui

    cli.add_command(tui)
