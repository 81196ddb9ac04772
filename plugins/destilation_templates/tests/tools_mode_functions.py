"""Tool functions the tools-mode tests import by ``module:function`` (the tests put this folder on sys.path)."""

from __future__ import annotations

import threading

CALLS: list[tuple[str, dict[str, object]]] = []
THREADS: set[int] = set()


def add(a: int, b: int) -> dict[str, int]:
    CALLS.append(("add", {"a": a, "b": b}))
    THREADS.add(threading.get_ident())
    return {"sum": a + b}


def shout(text: str) -> str:
    return text.upper()


def explode(**arguments: object) -> None:
    raise RuntimeError("the service is down")


def not_json(**arguments: object) -> object:
    return {1, 2}


NOT_CALLABLE = 3
