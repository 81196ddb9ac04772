"""`destiler templates`: the templates installed plugins provide."""

from __future__ import annotations

import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state, table
from destilation.templates import Template


@click.command()
@json_option
@pass_state
def templates(state: CliState, as_json: bool) -> None:
    """List built-in templates (custom ones are TOML files named in a job's `template`)."""
    regs = sorted(state.app.registry.table("templates").values(), key=lambda r: r.name)
    items = []
    for reg in regs:
        template: Template = reg.obj
        items.append(
            {
                "id": template.id,
                "version": template.version,
                "mode": template.mode,
                "distribution": reg.distribution,
                "description": template.description,
            }
        )
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo("no templates installed: install destilation-templates")
        return
    table([(i["id"], i["version"], i["mode"], i["distribution"]) for i in items], ("ID", "VERSION", "MODE", "FROM"))
