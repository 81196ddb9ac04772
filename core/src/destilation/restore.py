"""Read a stored job spec back for `resume`, without ever reading a secret back from the store.

The store holds the job table redacted, with an `$origin` table (see `config.stored_spec`).
Masked values are taken again from the job file, `${ENV}` references from today's environment,
providers the global config lent the job from today's global config (or the one the job ran
with). What cannot be found stops the resume with one line that says where to put it, before
anything is sent and without touching the job's state.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from destilation.config import (
    ORIGIN_KEY,
    JobSpec,
    ProviderSpec,
    Settings,
    interpolate,
    job_table,
    load_settings,
    merge_providers,
    spec_body,
    structure,
)
from destilation.domain import JSON
from destilation.errors import ConfigError
from destilation.redaction import REDACTED

_MISSING = object()
_NOT_ENV = re.compile(r"[^A-Z0-9_]+")


def restore_spec(name: str, stored: Mapping[str, JSON], settings: Settings, config_file: Path | None = None) -> JobSpec:
    """The spec of stored job `name`, its secrets filled from where they were given.

    `settings` and `config_file` are today's global config; when none was found, the one the
    job ran with (if it still exists) lends the providers.
    """
    origin = stored.get(ORIGIN_KEY)
    origin = origin if isinstance(origin, dict) else {}
    raw: dict[str, Any] = copy.deepcopy(spec_body(stored))
    _fill_masked(name, raw, origin)
    source = f"job {name} (stored spec)"
    spec = structure(interpolate(raw, source=source), JobSpec, source=source)
    return merge_providers(spec, _lent_providers(name, spec, origin, settings, config_file))


def _paths(raw: dict[str, Any], origin: dict[str, Any]) -> list[tuple[str | int, ...]]:
    if "redacted" in origin:
        return [tuple(p) for p in origin["redacted"]]
    # Stored before `$origin` existed: every string that carries the marker was masked.
    return [path for path, value in _strings(raw, ()) if REDACTED in value] if not origin else []


def _strings(value: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, (*path, i))]
    return [(path, value)] if isinstance(value, str) else []


def _fill_masked(name: str, raw: dict[str, Any], origin: dict[str, Any]) -> None:
    """Put back every masked value from the job file, or stop naming the first one missing."""
    paths = _paths(raw, origin)
    if not paths:
        return
    job_file = origin.get("job_file")
    table: dict[str, Any] | None = None
    if isinstance(job_file, str) and Path(job_file).is_file():
        table = job_table(Path(job_file))
    for path in paths:
        value = _lookup(table, path) if table is not None else _MISSING
        if value is _MISSING:
            raise _missing(name, raw, path, job_file if isinstance(job_file, str) else None, table is not None)
        _assign(raw, path, value)


def _lookup(table: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        keyed = isinstance(table, dict) and isinstance(part, str) and part in table
        indexed = isinstance(table, list) and isinstance(part, int) and 0 <= part < len(table)
        if not (keyed or indexed):
            return _MISSING
        table = table[part]
    return table


def _assign(raw: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        raw = raw[part]
    raw[path[-1]] = value


def _shown(path: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _env_name(raw: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """A variable name to suggest: `OPENAI_API_KEY` for the key of an `openai` provider."""
    key = str(path[-1])
    if len(path) == 3 and path[0] == "providers" and key == "api_key":
        kind = raw.get("providers", {}).get(path[1], {}).get("kind")
        if isinstance(kind, str) and kind:
            return _NOT_ENV.sub("_", f"{kind}_API_KEY".upper())
    return _NOT_ENV.sub("_", "_".join(str(p) for p in path).upper())


def _missing(
    name: str, raw: dict[str, Any], path: tuple[str | int, ...], job_file: str | None, exists: bool
) -> ConfigError:
    where = _shown(path)
    key = str(path[-1])
    ref = f'{key} = "${{{_env_name(raw, path)}}}"'
    if job_file is None:
        return ConfigError(
            f"job {name}",
            f"{where} was masked when the job was stored and its job file is not recorded; "
            f"continue it with `destiler run JOB.toml` from its job file, or write {ref} there",
        )
    state = "which no longer has it" if exists else "which is gone"
    return ConfigError(
        f"job {name}",
        f"{where} was given in {job_file}, {state}; put it back there or write {ref} there and set that variable",
    )


def _lent_providers(
    name: str, spec: JobSpec, origin: dict[str, Any], settings: Settings, config_file: Path | None
) -> Mapping[str, ProviderSpec]:
    """Today's global providers; the job's own config when no global config was found today."""
    providers: Mapping[str, ProviderSpec] = settings.providers
    remembered = origin.get("config_file")
    remembered = remembered if isinstance(remembered, str) else None
    if config_file is None and not providers and remembered is not None and Path(remembered).is_file():
        providers = load_settings(Path(remembered))[0].providers
    for lent in origin.get("providers", []):
        if lent not in providers and lent not in spec.providers:
            gone = remembered is not None and not Path(remembered).is_file()
            today = "which is gone; put it back, or" if gone else "and today's global config has no such provider;"
            raise ConfigError(
                f"job {name}",
                f"$.providers.{lent} came from the global config {remembered} {today} "
                f"pass a global config with [providers.{lent}] by --config or $DESTILATION_CONFIG",
            )
    return providers
