"""``metadata.json``: what a dataset is and how it was made.

Facts come from the job record and from the data file itself (see `scan`). The spec is read
only after redaction, so nothing built here can carry a secret. The spec's shape belongs to the
core; the readers below skip what they do not recognise rather than fail a finished job over
its card.
"""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from destilation import JobRecord, TaskState
from destilation_jsonl.redact import redact
from destilation_jsonl.scan import Scan


def iso_utc(timestamp: float | None) -> str | None:
    """A Unix time as ISO-8601 in UTC (``2025-01-31T12:00:00Z``)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def core_version() -> str:
    return importlib.metadata.version("destilation-core")


def _text(value: Any) -> str | None:
    """A scalar as text (TOML lets a version be a number); anything else counts as absent."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)


def template_of(spec: dict[str, Any], first: dict[str, Any] | None) -> dict[str, str | None]:
    """Template id and version as the samples record them; else the spec's reference.

    A spec may name a template file by absolute path: only its file name is published.
    """
    meta = first.get("meta") if first else None
    if isinstance(meta, dict) and _text(meta.get("template")):
        return {"id": _text(meta.get("template")), "version": _text(meta.get("template_version"))}
    reference = _text(spec.get("template"))
    return {"id": PurePath(reference).name if reference else None, "version": None}


def providers_of(spec: dict[str, Any]) -> list[dict[str, str | None]]:
    """The job's own ``[providers.NAME]`` tables: name, kind, model."""
    providers = spec.get("providers")
    if not isinstance(providers, dict):
        return []
    out = []
    for name, entry in providers.items():
        table = entry if isinstance(entry, dict) else {}
        out.append({"name": str(name), "kind": _text(table.get("kind")), "model": _text(table.get("model"))})
    return out


def build_metadata(
    job: JobRecord,
    counts: dict[TaskState, int],
    scan: Scan,
    *,
    data_file: str,
    version: str,
    license: str | None = None,
    language: list[str] | None = None,
) -> dict[str, Any]:
    """The metadata document. `license` and `language` are published only when given."""
    # Keys starting with `$` are the store's bookkeeping (where the job file was), not the job's spec.
    spec = redact({k: v for k, v in job.spec.items() if not k.startswith("$")})
    return {
        "name": job.name,
        "state": str(job.state),
        "message": redact(job.message),
        "target": job.target,
        "planned": job.planned,
        "samples": scan.lines,
        "counts": {state.value: int(counts.get(state, 0)) for state in TaskState},
        "data_file": data_file,
        "template": template_of(spec, scan.first),
        "providers": providers_of(spec),
        "models": [{"provider": p, "model": m, "samples": n} for p, m, n in scan.models],
        "license": license,
        "language": language or None,
        "created_at": iso_utc(job.created_at),
        "finished_at": iso_utc(job.finished_at),
        "destilation_version": version,
        "spec": spec,
    }
