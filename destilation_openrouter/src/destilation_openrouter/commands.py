"""`destiler openrouter models` and `destiler openrouter key`: what OpenRouter offers and what the key may spend.

Every `destiler` command builds this group, so httpx is imported only when one of these runs.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import click

from destilation import DestilationError, ProviderError, redact_text, redact_url
from destilation_openrouter.config import OPENROUTER_BASE_URL
from destilation_openrouter.parse import load_json, status_error

KEY_ENV = "OPENROUTER_API_KEY"
BASE_URL_ENV = "OPENROUTER_BASE_URL"
TIMEOUT_S = 30.0
CAPABILITY_PARAMETERS = {
    "response_format": "json_schema",
    "structured_outputs": "json_schema",
    "tools": "tools",
    "reasoning": "reasoning",
    "include_reasoning": "reasoning",
}
"""OpenRouter's `supported_parameters` that make a Destilation capability."""


class Unreachable(DestilationError):
    """OpenRouter could not be asked, or refused: one line, exit 1."""

    exit_code = 1


def _check_base_url(base_url: str) -> None:
    from destilation_openrouter.base_url import is_usable

    # The URL itself is not repeated: a user may have put credentials into it.
    if not is_usable(base_url):
        raise DestilationError(
            f"--base-url (or {BASE_URL_ENV}) must be an http:// or https:// URL with a host (and a port in 1-65535)"
        )


def _fetch(base_url: str, path: str, key: str | None) -> Any:
    import httpx

    _check_base_url(base_url)
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    secrets = [key] if key else []
    url = f"{base_url.rstrip('/')}/{path}"
    try:
        response = httpx.get(url, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        raise Unreachable(redact_text(f"cannot reach {redact_url(base_url)}: {detail}", secrets)) from None
    try:
        if response.status_code != 200:
            raise status_error("openrouter", response.status_code, response.content, None)
        data = load_json(response.content, "openrouter")
    except ProviderError as exc:
        raise Unreachable(redact_text(str(exc), secrets)) from None
    found = data.get("data") if isinstance(data, dict) else None
    if found is None:
        raise Unreachable(f"openrouter: no 'data' in the answer to GET /{path}")
    return found


def _per_mtok(value: Any) -> float | None:
    try:
        number = float(value) * 1e6
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def model_entry(item: dict[str, Any]) -> dict[str, Any]:
    """One model of `GET /models` in the shape `--json` prints."""
    pricing = item.get("pricing") if isinstance(item.get("pricing"), dict) else {}
    parameters = [p for p in item.get("supported_parameters") or () if isinstance(p, str)]
    return {
        "id": item.get("id"),
        "name": item.get("name"),
        "context_length": item.get("context_length"),
        "prompt_per_mtok": _per_mtok(pricing.get("prompt")),
        "completion_per_mtok": _per_mtok(pricing.get("completion")),
        "capabilities": sorted({CAPABILITY_PARAMETERS[p] for p in parameters if p in CAPABILITY_PARAMETERS}),
        "supported_parameters": parameters,
    }


def _money(value: Any) -> str:
    return f"${value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _model_line(entry: dict[str, Any]) -> str:
    context = entry["context_length"]
    prices = f"{_money(entry['prompt_per_mtok'])}/{_money(entry['completion_per_mtok'])} per Mtok"
    capabilities = ", ".join(entry["capabilities"]) or "none"
    return f"{entry['id']}: context {context if context is not None else '-'}, {prices}, capabilities: {capabilities}"


base_url_option = click.option(
    "--base-url",
    envvar=BASE_URL_ENV,
    default=OPENROUTER_BASE_URL,
    show_default=True,
    help=f"OpenRouter's API root (or {BASE_URL_ENV}).",
)


@click.group()
def openrouter() -> None:
    """OpenRouter: its models and prices, and what your key may still spend."""


@openrouter.command()
@base_url_option
@click.option("--json", "as_json", is_flag=True, help="One JSON array of models.")
def models(base_url: str, as_json: bool) -> None:
    """List OpenRouter's models: context length, price per million tokens, capabilities.

    The key (OPENROUTER_API_KEY) is sent when set; the list itself needs none.
    """
    items = _fetch(base_url, "models", os.environ.get(KEY_ENV) or None)
    entries = [model_entry(item) for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        click.echo(_model_line(entry))


@openrouter.command()
@base_url_option
@click.option("--json", "as_json", is_flag=True, help="The key's record as JSON.")
def key(base_url: str, as_json: bool) -> None:
    """Show the key's limit, usage and what remains (from OPENROUTER_API_KEY)."""
    secret = os.environ.get(KEY_ENV)
    if not secret:
        raise DestilationError(f"no API key: set {KEY_ENV}")
    data = _fetch(base_url, "key", secret)
    if not isinstance(data, dict):
        raise Unreachable("openrouter: the key's record is not an object")
    record = {name: data.get(name) for name in ("label", "limit", "usage", "limit_remaining", "is_free_tier")}
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    limit = "no limit" if record["limit"] is None else f"limit {_money(record['limit'])}"
    remaining = "" if record["limit_remaining"] is None else f", {_money(record['limit_remaining'])} remaining"
    label = f" {record['label']}" if isinstance(record["label"], str) and record["label"] else ""
    click.echo(redact_text(f"key{label}: used {_money(record['usage'])}, {limit}{remaining}", [secret]))
