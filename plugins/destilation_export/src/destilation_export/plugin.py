"""Entry point of destilation-export: adds the `export` command to `destiler`."""

from __future__ import annotations

import click

from destilation import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    from destilation_export.command import export

    cli.add_command(export)
