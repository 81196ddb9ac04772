"""Every hook is documented (typed signature, :param: fields, an example) and exercised by a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from destilation import hookspecs

ROOT = Path(__file__).resolve().parents[1]


def test_hook_names_match_the_hookspecs() -> None:
    declared = {name for name, fn in vars(hookspecs).items() if hasattr(fn, "destilation_spec")}
    assert declared == set(hookspecs.HOOK_NAMES)


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_is_documented(name: str) -> None:
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    signature = inspect.signature(fn)
    assert doc.splitlines()[0].endswith("."), f"{name}: first line should be a sentence"
    for param in signature.parameters:
        assert f":param {param}:" in doc, f"{name}: parameter {param} is not documented"
    assert "Example::" in doc and "@hookimpl" in doc, f"{name}: no example"
    assert signature.return_annotation != inspect.Signature.empty


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_has_a_test(name: str) -> None:
    test_files = [
        *ROOT.glob("core/tests/test_*.py"),
        *ROOT.glob("tests/test_*.py"),
        *ROOT.glob("plugins/*/tests/test_*.py"),
        *ROOT.glob("destilation_*/tests/test_*.py"),
    ]
    mentions = [p for p in test_files if p.name != "test_hook_contract.py" and name in p.read_text(encoding="utf-8")]
    assert mentions, f"no test mentions the hook {name}"
