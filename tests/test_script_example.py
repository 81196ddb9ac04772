"""examples/script.toml as a user runs it: the Python script provider delivers the job's count."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import anyio

from destilation.app import App
from destilation.config import Settings, load_job
from destilation.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "script.toml"


def test_the_script_example_delivers_its_count(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # the example's command is relative to where destiler runs
    loaded = load_job(EXAMPLE)
    app = App(
        make_plugin_manager(), Settings(data_dir=str(tmp_path)), f"sqlite:///{tmp_path / 'state.db'}", str(tmp_path)
    )
    call = functools.partial(app.run, loaded.spec, loaded.raw, str(EXAMPLE), resume=False, handle_signals=False)
    outcome = anyio.run(call)
    assert outcome.accepted == loaded.spec.count == 40 and outcome.rejected == 0
    records = [json.loads(line) for line in (tmp_path / "script-echo" / "data.jsonl").read_text().splitlines()]
    assert len(records) == 40 and len({r["question"] for r in records}) == 40
    assert {r["meta"]["provider"] for r in records} == {"teacher"}
    assert {r["meta"]["model"] for r in records} == {"echo-1"}
