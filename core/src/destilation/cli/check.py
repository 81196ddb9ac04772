"""`destiler check JOB.toml`: everything `run` checks, without running; `--probe` asks each provider once."""

from __future__ import annotations

from pathlib import Path

import anyio
import click

from destilation.cli.state import CliState, pass_state
from destilation.config import load_job
from destilation.domain import GenerationRequest, Message
from destilation.errors import EXIT_JOB_FAILED
from destilation.interfaces import Provider, ProviderError
from destilation.redaction import redact_text

PROBE_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}
PROBE_REQUEST = GenerationRequest(
    messages=(
        Message("system", "You answer with JSON."),
        Message("user", 'Reply with {"ok": true}.'),
    ),
    max_tokens=256,
    response_schema=PROBE_SCHEMA,
)
"""One small request with a tiny schema: enough for a provider to find how its server takes a schema."""


@click.command()
@click.argument("job_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--probe", is_flag=True, help="Also send one small request to each provider and say what it took.")
@pass_state
def check(state: CliState, job_file: Path, probe: bool) -> None:
    """Validate JOB_FILE as `run` would, without running it or sending a request.

    Config keys and values, plugins that failed to load, the template and its JSON schema,
    providers (built, so a missing API key shows), validators, routing, sinks, the inputs file
    line by line and the store URL. Exit code 0 when `run` would start, 2 when it would refuse.

    With --probe, each provider then gets one small request with a tiny JSON schema, and one
    line says what it settled on (a structured output mode, the model that answered) or why it
    could not be reached; exit code 1 when any could not.
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
    if probe:
        lines, failed = anyio.run(_probe_all, state.app.build_providers(spec, str(job_file)))
        for line in lines:
            click.echo(line)
        if failed:
            raise click.exceptions.Exit(EXIT_JOB_FAILED)


async def _probe_all(providers: list[Provider]) -> tuple[list[str], bool]:
    """One line per provider, probed one after another (a probe is one small request)."""
    lines, failed = [], False
    for provider in providers:
        info = provider.info()
        try:
            async with provider:
                said = await provider.probe(PROBE_REQUEST)
        except ProviderError as exc:
            said, failed = f"unreachable: {exc}", True
        lines.append(redact_text(f"  {info.name} ({info.kind}): {said}"))
    return lines, failed
