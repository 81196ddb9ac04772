"""What lineage costs a dataset line: bytes and JSONL encode time with and without it.

    python bench/bench_lineage.py [--job examples/quickstart.toml]

Runs the job (the quickstart by default: the mock, offline) into a temporary data dir, then
reads its lines back as samples and encodes each twice with the JSONL sink's encoder: as it is,
and without the lineage keys (`meta.mode`, `latency_s`, `input`, `messages`, `preamble`). Prints mean line
bytes and encode microseconds of both, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from destilation import Sample
from destilation.domain import TaskSeed, message_from_record
from destilation_jsonl.encode import encode_line

ROOT = Path(__file__).resolve().parents[1]


def run_job(job: Path, data_dir: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    env["DESTILATION_DATA_DIR"] = str(data_dir)
    subprocess.run([sys.executable, "-m", "destilation", "run", "-q", str(job)], env=env, check=True)
    (dataset,) = data_dir.glob("*/data.jsonl")
    return dataset


def sample_of(line: dict[str, Any]) -> Sample:
    meta = line.pop("meta")
    axes, row = meta["input"]["axes"], meta["input"]["row"]
    return Sample(
        job=meta["job"],
        task_index=meta["task"],
        content={k: v for k, v in line.items() if k not in ("reasoning", "tool_calls")},
        content_hash=meta["content_hash"],
        template_id=meta["template"],
        template_version=meta["template_version"],
        provider=meta["provider"],
        model=meta["model"],
        attempts=meta["attempts"],
        mode=meta["mode"],
        latency_s=meta["latency_s"],
        seed=TaskSeed(meta["task"], axes or {}, row),
        messages=tuple(message_from_record(m) for m in meta["messages"]),
        preamble=meta["preamble"],
    )


def measure(samples: list[Sample], rounds: int) -> tuple[float, float]:
    """Mean bytes per line and mean encode microseconds per line."""
    size = sum(len(encode_line(s)) for s in samples) / len(samples)
    started = time.perf_counter()
    for _ in range(rounds):
        for s in samples:
            encode_line(s)
    return size, (time.perf_counter() - started) / (rounds * len(samples)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", type=Path, default=ROOT / "examples" / "quickstart.toml")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = run_job(args.job.resolve(), Path(tmp))
        samples = [sample_of(json.loads(line)) for line in dataset.read_text(encoding="utf-8").splitlines()]
    bare = [attrs.evolve(s, mode=None, seed=None, messages=(), preamble=None) for s in samples]
    with_size, with_us = measure(samples, args.rounds)
    bare_size, bare_us = measure(bare, args.rounds)
    # A bare sample still prints the lineage keys, as nulls: take their bytes off too.
    empty = len(
        json.dumps(
            {"mode": None, "latency_s": 0.0, "input": {"axes": None, "row": None}, "messages": [], "preamble": None}
        )
    )
    print(f"{len(samples)} lines of {args.job.name}")
    print(f"  without lineage: {bare_size - empty:8.0f} bytes/line  {bare_us:7.1f} us/line to encode")
    print(f"  with lineage:    {with_size:8.0f} bytes/line  {with_us:7.1f} us/line to encode")
    print(f"  ratio:           {with_size / (bare_size - empty):8.2f}x bytes  {with_us / bare_us:9.2f}x encode time")


if __name__ == "__main__":
    main()
