"""`destiler check JOB.toml`: everything `run` checks, without running."""

from __future__ import annotations

from pathlib import Path

import click

from destilation.cli.state import CliState, pass_state
from destilation.config import load_job


@click.command()
@click.argument("job_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def check(state: CliState, job_file: Path) -> None:
    """Validate JOB_FILE as `run` would, without running it or sending a request.

    Config keys and values, plugins that failed to load, the template and its JSON schema,
    providers (built, so a missing API key shows), validators, routing, sinks, the inputs file
    line by line and the store URL. Exit code 0 when `run` would start, 2 when it would refuse.
    """
    from destilation.engine.assembly import processes_for  # the engine loads only for commands that use it

    loaded = load_job(job_file, state.app.settings)
    template = state.app.check(loaded.spec, str(job_file))
    spec = loaded.spec
    providers = ", ".join(f"{name} ({p.kind})" for name, p in spec.providers.items())
    processes = processes_for(spec)
    capped = f" (processes = {spec.processes} is more than it can use)" if (spec.processes or 0) > processes else ""
    click.echo(
        f"{job_file}: ok: job {spec.name!r}, {spec.count} samples, template {template.id} v{template.version}, "
        f"providers: {providers}, {processes} process{'es' if processes > 1 else ''}{capped}"
    )
