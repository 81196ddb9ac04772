"""Which keys of a job file changed since its job was stored, named by key path (`$.axes.topic`).

`run` compares the stored spec with the job file's to decide whether it may continue a job:
both are compared in their redacted form, and a key the redactor hides is never a change, so a
secret is neither read back nor shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from destilation.config import redact
from destilation.domain import JSON


def changed_keys(stored: Mapping[str, JSON], new: Mapping[str, JSON]) -> list[str]:
    """Key paths where `new` differs from `stored` (added, removed or another value), in order."""
    return sorted(_differences(redact(dict(stored)), redact(dict(new)), "$"))


def _differences(old: JSON, new: JSON, path: str) -> Iterator[str]:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        if old != new:
            yield path
        return
    for key in sorted(old.keys() | new.keys()):
        if _is_secret(key):
            continue
        where = f"{path}.{key}"
        if key not in old or key not in new:
            yield where
        else:
            yield from _differences(old[key], new[key], where)


def _is_secret(key: str) -> bool:
    """Whether the redactor hides this key's values: they are not in the stored spec to compare."""
    return bool(redact({key: "x"}) != {key: "x"})
