"""One job across two OpenAI-compatible endpoints and one Ollama endpoint, all of them failing at times.

With 20 % 429s (`Retry-After: 1`) and 5 % 500s and a single attempt per task, the job delivers its
count with no task rejected, and the servers' own logs show that no endpoint got a request while
its `Retry-After` ran: the hold covers every request of the provider, not only the one refused.
(That requests per minute hold in every 60-second window at the server is shown by the call
policy's tests on a sped-up clock, `core/tests/test_policy_http.py`.)
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

from destilation import JobState
from tests.test_providers_failover import FaultyOpenAI, make_app, run

HOLD_S = 1.0
IN_FLIGHT_S = 0.1
"""Requests sent before the client read a 429 still arrive just after it: they are not a breach."""


def _load(name: str, folder: str) -> ModuleType:
    path = Path(__file__).resolve().parents[1] / folder / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


fake_ollama = _load("fake_ollama", "destilation_ollama")


class LoggedOpenAI(FaultyOpenAI):
    """The faulty OpenAI fake, logging when each request arrived and what it was answered."""

    def __init__(self, **faults: Any) -> None:
        super().__init__(**faults)
        self.log: list[tuple[float, int]] = []

    def chat(self, headers: Any, raw: bytes) -> tuple[Any, float]:
        answer = super().chat(headers, raw)
        self.log.append((time.monotonic(), self.statuses[-1]))
        return answer


class FaultyOllama(fake_ollama.FakeOllama):  # type: ignore[misc, name-defined]
    """The Ollama fake with the same injected faults and the same log."""

    def __init__(self, *, rate_limited: float, broken: float, seed: int) -> None:
        super().__init__()
        self.rate_limited, self.broken = rate_limited, broken
        self.rng = random.Random(seed)
        self.log: list[tuple[float, int]] = []

    async def chat(self, request: web.Request) -> web.StreamResponse:
        roll = self.rng.random()
        status = 429 if roll < self.rate_limited else 500 if roll < self.rate_limited + self.broken else 200
        self.log.append((time.monotonic(), status))
        if status == 429:
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "1"})
        if status == 500:
            return web.json_response({"error": "internal error"}, status=500)
        return await super().chat(request)  # type: ignore[no-any-return]


def breaches(log: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """(429 at, request at) for each request that arrived while a `Retry-After` of that endpoint ran."""
    refused = [at for at, status in log if status == 429]
    return [(t, at) for t in refused for at, _ in log if t + IN_FLIGHT_S < at < t + HOLD_S - 0.02]


@pytest.mark.anyio
async def test_two_openai_endpoints_and_an_ollama_one_with_429s_and_500s_deliver_every_sample(
    tmp_path: Path,
) -> None:
    one = LoggedOpenAI(rate_limited=0.2, broken=0.05, seed=11)
    two = LoggedOpenAI(rate_limited=0.2, broken=0.05, seed=12)
    local = FaultyOllama(rate_limited=0.2, broken=0.05, seed=13)
    fake_openai = sys.modules["fake_openai"]
    with (
        fake_openai.start_fake_openai(one) as first,
        fake_openai.start_fake_openai(two) as second,
        fake_ollama.run_fake(local) as host,
    ):
        job = tmp_path / "mixed.toml"
        job.write_text(
            'name = "mixed"\ncount = 24\nmax_attempts = 1\nseed = 5\nprocesses = 1\n'
            '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees"]\n'
            + "".join(
                f'[providers.{name}]\nkind = "openai"\nmodel = "fake/model"\nbase_url = "{base}"\nconcurrency = 4\n'
                for name, base in (("a", first), ("b", second))
            )
            + f'[providers.local]\nkind = "ollama"\nmodel = "qwen3:8b"\nhost = "{host}"\nconcurrency = 4\n',
            encoding="utf-8",
        )
        outcome = await run(make_app(tmp_path), job)
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.DONE, 24, 0)
    lines = [json.loads(line) for line in (tmp_path / "mixed" / "data.jsonl").read_text().splitlines()]
    assert len(lines) == 24 and {line["meta"]["attempts"] for line in lines} == {1}
    logs = {"a": one.log, "b": two.log, "local": local.log}
    assert all(any(status == 200 for _, status in log) for log in logs.values()), "every endpoint answered some"
    assert any(status == 429 for log in logs.values() for _, status in log), "the servers refused some requests"
    assert {name: breaches(log) for name, log in logs.items()} == {"a": [], "b": [], "local": []}
