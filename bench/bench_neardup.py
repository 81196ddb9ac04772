"""Near-duplicate check cost: checks/s of `near_dup` against `exact_dedup` in the same run.

    python bench/bench_neardup.py --stored 5000 --checks 5000 [--num-perm 128] [--shingle 3]

Candidates are mock answers (a 300-character answer and a question, a share of them near-copies,
as `repeat` makes them). `--stored` accepted samples sit in an in-process store answering both
validators, so the figures are the validators' own CPU, not a database's: the time to build the
index from the store on first use, then checks/s and CPU microseconds per check for each.
Reservations expire at once here, so both validators judge every candidate against the same
stored samples.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

import anyio

from destilation import (
    Candidate,
    Generation,
    GenerationRequest,
    Message,
    PluginContext,
    ProviderInfo,
    Sample,
    Task,
    TaskSeed,
    Template,
    ValidationContext,
)
from destilation_mock.config import MockConfig
from destilation_mock.provider import MockProvider
from destilation_validators.exact_dedup import ExactDedupValidator
from destilation_validators.near_dup import NearDupConfig, NearDupValidator

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string", "minLength": 10}, "answer": {"type": "string", "minLength": 300}},
    "required": ["question", "answer"],
}
TOPICS = ("tides", "volcanoes", "sorting", "taxes", "bees", "optics", "rivers", "markets")


class Store:
    """Accepted samples in memory: just what the two validators ask."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.hashes = {s.content_hash for s in samples}

    async def has_content_hash(self, job: str, content_hash: str) -> bool:
        return content_hash in self.hashes

    async def samples_after(self, job: str, seq: int, limit: int) -> list[Sample]:
        return self.samples[seq : seq + limit]  # seq n is at position n - 1


async def answers(count: int, offset: int) -> list[dict[str, Any]]:
    mock = MockProvider(MockConfig(repeat=0.2), None, ProviderInfo("mock", "mock", "mock-1"))
    out = []
    for i in range(offset, offset + count):
        prompt = f"Explain {TOPICS[i % len(TOPICS)]} to reader {i}."
        request = GenerationRequest((Message("user", prompt),), response_schema=SCHEMA, seed=i)
        out.append(json.loads((await mock.generate(request)).text))
    return out


def fingerprint(content: Any) -> str:
    return json.dumps(content, sort_keys=True)


async def time_checks(validator: Any, candidates: list[Candidate], vctx: ValidationContext) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and rejections for one check of each candidate."""
    rejected = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for candidate in candidates:
        rejected += not (await validator.check(candidate, vctx)).ok
    return time.perf_counter() - wall, time.process_time() - cpu, rejected


async def main(args: argparse.Namespace) -> None:
    stored_content = await answers(args.stored, 0)
    samples = [
        Sample("bench", i, c, fingerprint(c), "bench", "1", "mock", "mock-1", 1, seq=i + 1)
        for i, c in enumerate(stored_content)
    ]
    store = Store(samples)
    template = Template(id="bench", version="1", mode="simple", schema=SCHEMA, system_prompt="", user_prompt="")
    vctx = ValidationContext("bench", template, store, fingerprint)  # type: ignore[arg-type]
    generation = Generation("", "mock", "mock-1")
    fresh = await answers(args.checks, args.stored)
    random.Random(1).shuffle(fresh)
    candidates = [Candidate(Task("bench", TaskSeed(args.stored + i)), generation, c) for i, c in enumerate(fresh)]
    context = PluginContext(data_dir=".", emit=lambda event: None, http_client=_no_http)

    near = NearDupValidator(NearDupConfig(num_perm=args.num_perm, shingle=args.shingle, reserve_s=1e-9), context)
    started = time.perf_counter()
    await near.check(candidates[0], vctx)  # the first check builds the index from the store
    build = time.perf_counter() - started
    print(f"index built from {args.stored} stored samples in {build:.2f} s ({args.stored / build:,.0f} samples/s)")
    for name, validator in (("exact_dedup", ExactDedupValidator(None, context)), ("near_dup", near)):
        wall, cpu, rejected = await time_checks(validator, candidates, vctx)
        print(
            f"{name:12} {len(candidates) / wall:10,.0f} checks/s  {cpu / len(candidates) * 1e6:8,.1f} us CPU/check"
            f"  {rejected} of {len(candidates)} rejected"
        )


def _no_http(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    raise AssertionError("validators make no HTTP calls")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=5000)
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--shingle", type=int, default=3)
    anyio.run(main, parser.parse_args())
