"""`destiler ollama models`: what a server has pulled, and what each model can do.

Without a running job: the host comes from `--host`, else OLLAMA_HOST, else the local default.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import click

from destilation import ProviderError

CLI_TIMEOUT_S = 30.0
SHOWS_AT_ONCE = 4
"""`/api/show` reads a model's files: a few at a time keep a busy server responsive."""


@click.group()
def ollama() -> None:
    """Ollama servers: the models they have and what each can do."""


@ollama.command("models")
@click.option("--host", help="The Ollama server: host[:port] or URL (default: OLLAMA_HOST, else 127.0.0.1:11434).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def models(ctx: click.Context, host: str | None, as_json: bool) -> None:
    """List the pulled models: size, family, parameters, quantization and capabilities."""
    from destilation_ollama.host import BadHost, base_url, host_setting

    try:
        base = base_url(host_setting(host))
    except BadHost as exc:
        where = "--host" if host is not None and host.strip() else "OLLAMA_HOST"
        raise click.BadParameter(str(exc), param_hint=where) from None
    try:
        rows = anyio.run(_rows, base)
    except ProviderError as exc:
        click.echo(f"error: {str(exc).removeprefix('ollama: ')}", err=True)
        ctx.exit(1)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(table(rows), nl=False)


async def _rows(base: str) -> list[dict[str, Any]]:
    from destilation.http import make_http_client
    from destilation_ollama.client import OllamaClient

    http = make_http_client(base_url=base, timeout=CLI_TIMEOUT_S + 1.0, headers={"Accept": "application/json"})
    client = OllamaClient(http, base, name="ollama", timeout_s=CLI_TIMEOUT_S, max_response_bytes=64 * 1024 * 1024)
    async with http:
        tags = await client.tags()
        shown: list[dict[str, Any] | None] = [None] * len(tags)
        limit = anyio.Semaphore(SHOWS_AT_ONCE)

        async def show(i: int, name: str) -> None:
            async with limit:
                try:
                    shown[i] = await client.show(name)
                except ProviderError:
                    shown[i] = None  # listed all the same, its capabilities unknown

        async with anyio.create_task_group() as group:
            for i, tag in enumerate(tags):
                group.start_soon(show, i, tag["name"])
    return [row(tag, info) for tag, info in zip(tags, shown, strict=True)]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def row(tag: dict[str, Any], show: dict[str, Any] | None) -> dict[str, Any]:
    """One model as `--json` prints it; what the server did not say is null."""
    details = tag.get("details") if isinstance(tag.get("details"), dict) else {}
    size = tag.get("size")
    capabilities = None
    context_length = None
    if show is not None:
        found = show.get("capabilities")
        if isinstance(found, list):
            capabilities = [c for c in found if isinstance(c, str)]
        info = show.get("model_info")
        if isinstance(info, dict):
            context_length = next(
                (v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)), None
            )
    return {
        "name": tag["name"],
        "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
        "family": _str(details.get("family")),
        "parameter_size": _str(details.get("parameter_size")),
        "quantization": _str(details.get("quantization_level")),
        "capabilities": capabilities,
        "context_length": context_length,
    }


def human_size(size: int | None) -> str:
    """Bytes as Ollama's own `ollama list` shows them (decimal units)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def table(rows: list[dict[str, Any]]) -> str:
    """The models as aligned columns; a server with none says so."""
    if not rows:
        return "no models pulled: `ollama pull NAME` fetches one\n"
    header = ("NAME", "SIZE", "FAMILY", "PARAMETERS", "QUANTIZATION", "CAPABILITIES")
    lines = [header]
    for r in rows:
        capabilities = "-" if r["capabilities"] is None else ",".join(r["capabilities"]) or "-"
        lines.append(
            (
                r["name"],
                human_size(r["size"]),
                r["family"] or "-",
                r["parameter_size"] or "-",
                r["quantization"] or "-",
                capabilities,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for line in lines:
        out.append(
            "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
        )
    return "\n".join(out) + "\n"
