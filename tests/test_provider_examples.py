"""The OpenRouter and vLLM example job files pass `destiler check` as shipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from destilation.cli.main import make_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["openrouter.toml", "vllm.toml"])
def test_example_checks(tmp_path: Path, name: str) -> None:
    env = {"OPENROUTER_API_KEY": "sk-or-v1-example", "DESTILATION_CONFIG": None, "DESTILATION_DB": None}
    args = ["--data-dir", str(tmp_path), "--db", f"sqlite:///{tmp_path}/state.db", "check", str(EXAMPLES / name)]
    result = CliRunner().invoke(make_cli(), args, env=env)
    assert result.exit_code == 0, result.output
    assert ": ok: job " in result.output
