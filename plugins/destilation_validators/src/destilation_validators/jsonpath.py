"""JSON paths for issue locations, spelled the way jsonschema spells them (``$.a[0]['b c']``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def child(path: str, key: str | int) -> str:
    """The path of `key` inside the value at `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def strings(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every string inside `value` with its path, depth first, without recursion."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            stack.extend((child(where, k), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((child(where, i), v) for i, v in reversed(list(enumerate(item))))
