"""A small job against a real model on an OpenAI-compatible server, when one can be started.

Set DESTILATION_REAL_MODEL_SERVE to a script that takes a port and serves a model there,
printing "ready http://127.0.0.1:PORT/v1" when it takes requests (the project's one serves
SmolLM2-135M on llama.cpp's server). Without it, or when it cannot start, the test is skipped
and says why.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from job_helpers import kit_app

from destilation.config import JobSpec, structure
from destilation.testing import TestingKit, job_table
from destilation_openrouter.provider import OpenRouterProvider

SERVE_ENV = "DESTILATION_REAL_MODEL_SERVE"
START_TIMEOUT_S = 600.0
"""The first start may install the server and the model (about 130 MB)."""


# Nothing here runs unless DESTILATION_REAL_MODEL_SERVE is set, hence the coverage pragmas.


def _free_port() -> int:  # pragma: no cover - real model only
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen[str], found: list[str]) -> None:  # pragma: no cover - real model only
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("ready "):
            found.append(line.split()[1])
            return


@pytest.fixture(scope="module")
def real_model() -> Iterator[str]:
    serve = os.environ.get(SERVE_ENV)
    if not serve:
        pytest.skip(f"{SERVE_ENV} is not set: no real model to run against")
    yield from _serve(serve)  # pragma: no cover - real model only


def _serve(serve: str) -> Iterator[str]:  # pragma: no cover - real model only
    """Start the serve script on a free port; its base URL once it is ready, or a visible skip."""
    try:
        process = subprocess.Popen(
            [serve, str(_free_port())], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
    except OSError as exc:
        pytest.skip(f"{SERVE_ENV} cannot be started: {exc}")
    try:
        found: list[str] = []
        reader = threading.Thread(target=_wait_ready, args=(process, found), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if not found:
            pytest.skip(f"{SERVE_ENV} did not get ready (exit code {process.poll()})")
        yield found[0]
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_a_small_job_against_a_real_model_delivers_its_count(  # pragma: no cover - real model only
    real_model: str, tmp_path: Path, stream: bool
) -> None:
    kit = TestingKit()
    app = kit_app(tmp_path, kit)
    table: dict[str, Any] = job_table(count=5, max_attempts=4)
    table["providers"] = {
        "teacher": {
            "kind": "openai",
            "model": "smollm2",
            "base_url": real_model,
            "concurrency": 2,
            "max_tokens": 200,
            "temperature": 0.8,
            "timeout_s": 300,
            "stream": stream,
        }
    }
    spec = structure(table, JobSpec, source="job.toml")
    prepared = app.prepare(spec, "job.toml")
    (provider,) = prepared.providers
    assert isinstance(provider, OpenRouterProvider)
    outcome = await app.run(spec, table, "job.toml", resume=False, handle_signals=False, prepared=prepared)
    assert outcome.accepted == 5, outcome
    mode = provider.health_details()["structured_output"]
    assert mode in ("json_schema", "json_object", "prompt")
    events = await kit.stores["memory://"].list_events("job")
    assert [e.data["mode"] for e in events if e.kind == "structured_output"] == [mode]
    print(f"real model (stream={stream}): {outcome.accepted}/5 accepted, {outcome.rejected} rejected, mode {mode}")
