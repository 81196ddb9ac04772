"""A whole job with kind `ollama` against the fake server: `destiler run` delivers its count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_ollama import FakeOllama, run_fake

from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager

# A job needs the first-party template, router, validators, store and sink: installed together
# (`tox -e py`, the development venv) it runs; beside the core alone (`isolated-ollama`) it is skipped.
for needed in (
    "destilation_templates",
    "destilation_routing",
    "destilation_validators",
    "destilation_sql",
    "destilation_jsonl",
):
    pytest.importorskip(needed, reason="a whole job needs the first-party plugins installed")

TOPICS = ["tides", "volcanoes", "sorting", "taxes", "bees", "glaciers", "comets", "ferns", "bridges", "yeast"]


@pytest.fixture
def served() -> Iterator[tuple[FakeOllama, str]]:
    server = FakeOllama()
    with run_fake(server) as url:
        yield server, url


def write_job(folder: Path, url: str, *, model: str = "qwen3:8b", count: int = 10, extra: str = "") -> Path:
    path = folder / "local.toml"
    path.write_text(
        f'name = "local"\ncount = {count}\nseed = 5\nmax_attempts = 2\nprocesses = 1\n'
        f"[axes]\ntopic = {json.dumps(TOPICS)}\n"
        f'[providers.local]\nkind = "ollama"\nmodel = "{model}"\nhost = "{url}"\nconcurrency = 4\n{extra}',
        encoding="utf-8",
    )
    return path


def destiler(folder: Path, *args: str) -> Any:
    cli = make_cli(make_plugin_manager())
    return CliRunner().invoke(cli, ["--data-dir", str(folder / "data"), *args])


def test_a_streamed_thinking_job_delivers_its_count(served: tuple[FakeOllama, str], tmp_path: Path) -> None:
    server, url = served
    job = write_job(
        tmp_path,
        url,
        count=20,
        extra='stream = true\nthink = true\nnum_ctx = 4096\nkeep_alive = "10m"\noptions = { top_k = 7 }\n',
    )
    result = destiler(tmp_path, "run", str(job))
    assert result.exit_code == 0, result.output
    assert "20/20 samples accepted" in result.stdout
    lines = [json.loads(line) for line in (tmp_path / "data" / "local" / "data.jsonl").read_text().splitlines()]
    assert len(lines) == 20
    assert all(line["question"] and line["answer"] for line in lines)
    first = server.requests[0]
    assert first["stream"] is True and first["think"] is True and first["keep_alive"] == "10m"
    assert first["options"]["num_ctx"] == 4096 and first["options"]["top_k"] == 7 and "seed" in first["options"]
    assert first["format"]["required"] == ["question", "answer"]
    shown = destiler(tmp_path, "show", "local", "--json")
    assert json.loads(shown.stdout)["accepted"] == 20


def test_a_model_that_is_not_pulled_stops_the_job_with_one_line(served: tuple[FakeOllama, str], tmp_path: Path) -> None:
    server, url = served
    job = write_job(tmp_path, url, model="mistral:7b", count=3)
    result = destiler(tmp_path, "run", str(job))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1
    assert f"model mistral:7b not found on {url}: run `ollama pull mistral:7b`" in result.stderr
    assert all(r["model"] == "mistral:7b" for r in server.requests)
