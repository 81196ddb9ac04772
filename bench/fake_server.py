"""The benchmarks' fake OpenAI-compatible server: the tests' fake plus faults and a record.

It serves what `destilation_openrouter/tests/fake_openai.py` serves, and in addition:
- faults drawn per chat request from a seeded generator: `--rate-limited P` answers 429 with
  `Retry-After: 1` (by default) and `--server-errors P` answers 500, so a run with faults sees the
  same mix every time;
- a record for the benchmark: `GET /bench/stats` gives the wall-clock time (`time.time()`) of the
  first chat request since the last `POST /bench/reset`, and counts by status; with
  `--record FILE`, the body of every chat request answered 200 until the first reset is
  appended to FILE as one JSON line, so the reference client can send exactly the requests
  `destiler` sent.

    python bench/fake_server.py --latency-ms 200 --rate-limited 0.1 --server-errors 0.05   # prints "PORT <n>"
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

FAKE_OPENAI = Path(__file__).resolve().parents[1] / "destilation_openrouter" / "tests" / "fake_openai.py"
"""The fake server is test support of the OpenRouter distribution, shipped in no wheel: loaded by path."""


def _load_fake() -> Any:
    spec = importlib.util.spec_from_file_location("fake_openai", FAKE_OPENAI)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_openai"] = module
    spec.loader.exec_module(module)
    return module


fake_openai = _load_fake()


class BenchServer(fake_openai.FakeOpenAI):  # type: ignore[misc]
    """FakeOpenAI with seeded faults, a first-request clock and a record of answered bodies."""

    def __init__(
        self,
        *,
        rate_limited: float,
        server_errors: float,
        retry_after: str,
        record: IO[str] | None,
        seed: int,
        **knobs: Any,
    ) -> None:
        super().__init__(**knobs)
        self.rate_limited = rate_limited
        self.server_errors = server_errors
        self.retry_after = retry_after
        self.record = record
        self.random = random.Random(seed)
        self.first_at: float | None = None
        self.statuses: Counter[int] = Counter()

    def respond(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[Any, float]:
        if path == "/bench/stats":
            stats = {"first_request_at": self.first_at, "statuses": dict(self.statuses)}
            return (200, json.dumps(stats), {}), 0.0
        if path == "/bench/reset":
            self.first_at, self.statuses = None, Counter()
            if self.record is not None:  # the first run's bodies are all the reference needs
                self.record.close()
                self.record = None
            return (200, "{}", {}), 0.0
        return super().respond(method, path, headers, raw)  # type: ignore[no-any-return]

    def chat(self, headers: Any, raw: bytes) -> tuple[Any, float]:
        if self.first_at is None:
            self.first_at = time.time()
        draw = self.random.random()
        if draw < self.rate_limited:
            answer = fake_openai._error(429, "fake rate limit", {"Retry-After": self.retry_after})
        elif draw < self.rate_limited + self.server_errors:
            answer = fake_openai._error(500, "fake server error")
        else:
            answer, _ = super().chat(headers, raw)
            if answer[0] == 200 and self.record is not None:
                self.record.write(raw.decode() + "\n")
        self.statuses[answer[0]] += 1
        return answer, self.latency_s


async def serve(fake: BenchServer, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with fake_openai.serving(fake, "127.0.0.1", port) as bound:
        print(f"PORT {bound}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limited", type=float, default=0.0, help="share of chat requests answered 429")
    parser.add_argument("--retry-after", default="1", help="the 429s' Retry-After header")
    parser.add_argument("--server-errors", type=float, default=0.0, help="share of chat requests answered 500")
    parser.add_argument("--record", type=Path, help="append the body of every request answered 200 here")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    record = args.record.open("a", encoding="utf-8") if args.record else None
    fake = BenchServer(
        latency_ms=args.latency_ms,
        rate_limited=args.rate_limited,
        server_errors=args.server_errors,
        retry_after=args.retry_after,
        record=record,
        seed=args.seed,
    )
    try:
        asyncio.run(serve(fake, args.port))
    finally:
        if fake.record is not None:
            fake.record.close()


if __name__ == "__main__":
    main()
