"""Every example job, with its mock breaking answers on purpose, in every export format, loaded back with `datasets`.

Breakage makes failed attempts, so the `dpo` export has pairs; each export must load with
`datasets.load_dataset("json", ...)` with one row per sample (or pair), and keep the structure
its mode produced (reasoning on the assistant turn, tool calls with their ids).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

datasets = pytest.importorskip("datasets")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FORMATS = ("openai-chat", "trl-messages", "trl-prompt-completion", "sharegpt", "alpaca", "dpo")
BREAKAGE = re.compile(r"(?m)^(\w*breakage|garbage_rate) = 0\.0$")
JOBS = {"quickstart": "quickstart", "moe": "moe", "reasoning": "reasoning", "custom": "recipes", "tools": "tools-demo"}
"""Example file → the job name it declares."""


def broken_example(tmp_path: Path, example: str) -> Path:
    """The example with every breakage rate of its mock at 0.25, its template path made absolute."""
    text = (EXAMPLES / f"{example}.toml").read_text(encoding="utf-8")
    text, changed = BREAKAGE.subn(lambda m: f"{m.group(1)} = 0.25", text)
    assert changed, f"examples/{example}.toml has no breakage rate at 0.0 to raise"
    text = re.sub(r'(?m)^template = "([^"]+\.toml)"', lambda m: f'template = "{EXAMPLES / m.group(1)}"', text)
    path = tmp_path / f"{example}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> Any:
    datasets.disable_progress_bars()
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(path.parent / "cache"))


@pytest.mark.parametrize("example", list(JOBS))
def test_every_format_of_every_example_loads(destiler: Any, tmp_path: Path, example: str) -> None:
    destiler.workdir = ROOT  # the tools example imports its tool functions from the repository root
    job = JOBS[example]
    run = destiler("run", "-q", str(broken_example(tmp_path, example)), timeout=300)
    assert run.returncode == 0, run.stderr
    count = len(destiler.lines(job))
    for name in FORMATS:
        out = tmp_path / f"{job}.{name}.jsonl"
        result = destiler("export", job, "--format", name, "-o", str(out))
        if example == "tools" and name == "alpaca":  # alpaca has no place for tool calls: refused in one line
            assert result.returncode == 2 and "alpaca has no place for tool calls" in result.stderr
            continue
        assert result.returncode == 0, (name, result.stderr)
        rows = load(out)
        if name == "dpo":  # one pair per task that failed before it was accepted
            assert 0 < len(rows) <= count, name
            assert set(rows.column_names) >= {"prompt", "chosen", "rejected"}
            continue
        assert len(rows) == count, name
    first = json.loads((tmp_path / f"{job}.trl-messages.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assistant = [m for m in first["messages"] if m["role"] == "assistant"]
    if example == "reasoning":  # the trace rides on the assistant turn
        assert any(m.get("reasoning_content") or m.get("thinking") or "<think>" in m["content"] for m in assistant)
    if example == "tools":  # the calls keep their ids and JSON-string arguments
        calls = [c for m in assistant for c in m.get("tool_calls") or []]
        assert calls and all(isinstance(c["function"]["arguments"], str) and c["id"] for c in calls)
