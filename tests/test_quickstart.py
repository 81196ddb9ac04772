"""The quickstart as a new user runs it: 200 valid samples, metadata, a dataset card, `show`."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_writes_200_valid_samples_and_reports_them(destiler) -> None:
    result = destiler("run", str(EXAMPLES / "quickstart.toml"))
    assert result.returncode == 0, result.stderr
    assert "200/200 samples accepted" in result.stdout

    lines = destiler.lines("quickstart")
    assert len(lines) == 200
    templates = destiler.json("templates")
    assert any(t["id"] == "simple" for t in templates)
    detail = destiler.json("inspect", "quickstart/0")
    schema = {
        "type": "object",
        "required": ["question", "answer"],
        "properties": {"question": {"type": "string", "minLength": 10}, "answer": {"type": "string", "minLength": 1}},
    }
    for line in lines:
        content = {k: v for k, v in line.items() if k != "meta"}
        jsonschema.validate(content, schema)
    assert len({line["meta"]["task"] for line in lines}) == 200
    assert len({line["meta"]["content_hash"] for line in lines}) == 200
    assert detail["state"] == "accepted"

    folder = destiler.data_dir / "quickstart"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["counts"]["accepted"] == 200
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "data.jsonl" in card

    shown = destiler.json("show", "quickstart")
    assert shown["accepted"] == 200
    assert shown["state"] == "done"
    jobs = destiler.json("jobs")
    assert [j["name"] for j in jobs] == ["quickstart"]


def test_running_a_done_job_again_changes_nothing(destiler, write_job) -> None:
    job = write_job(count=10)
    assert destiler("run", str(job)).returncode == 0
    again = destiler("run", str(job))
    assert again.returncode == 0, again.stderr
    assert "job: done, 10/10 samples accepted (already done: no request sent" in again.stdout
    assert len(destiler.lines("job")) == 10
