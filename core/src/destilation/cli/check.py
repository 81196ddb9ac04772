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
    """Validate JOB_FILE: config keys, template, providers, validators, routing and sinks."""
    from destilation.engine.assembly import processes_for  # the engine loads only for commands that use it

    loaded = load_job(job_file, state.app.settings)
    template = state.app.check(loaded.spec, str(job_file))
    spec = loaded.spec
    providers = ", ".join(f"{name} ({p.kind})" for name, p in spec.providers.items())
    processes = processes_for(spec)
    click.echo(
        f"{job_file}: ok: job {spec.name!r}, {spec.count} samples, template {template.id} v{template.version}, "
        f"providers: {providers}, {processes} process{'es' if processes > 1 else ''}"
    )
