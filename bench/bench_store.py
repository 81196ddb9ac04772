"""Store throughput: commit 20 000 accepted samples in batches of 500 on a temporary SQLite file.

Run: ``python bench/bench_store.py [--samples N] [--batch N] [--url URL]``. It plans the tasks,
then loops claim a page → commit one Accept per task, the way the engine's writer does, and
prints figures only. CPU time is printed beside wall time because a busy machine inflates wall
time; the engine wants several thousand accepted samples/s from the store with room to spare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from destilation import Accept, Attempt, Sample, Task, TaskSeed, Usage
from destilation_sql.store import SqlStore

JOB = "bench"
OWNER = "bench-runner"


def accept_for(task: Task) -> Accept:
    """A realistic accept: a few hundred bytes of content, usage, cost, a score."""
    index = task.index
    content = {
        "question": f"What is the {index}th observation about topic {index % 97}?",
        "answer": "A reasonably long answer that stands for model output. " * 4 + str(index),
    }
    usage = Usage(120, 240, 0)
    attempt = Attempt(1, "mock", "mock-1", True, 0.42, usage, 0.0003, "stop")
    sample = Sample(
        job=task.job,
        task_index=index,
        content=content,
        content_hash=f"{index:032x}",
        template_id="simple",
        template_version="1",
        provider="mock",
        model="mock-1",
        attempts=1,
        usage=usage,
        cost=0.0003,
        scores={"judge": 0.9},
    )
    return Accept(task, attempt, sample)


async def run(url: str, total: int, batch: int) -> None:
    store = SqlStore(url)
    await store.open()
    try:
        await store.lock_runner(JOB, OWNER)
        await store.create_job(JOB, {"template": "simple"}, total)
        started = time.perf_counter()
        await store.add_tasks(JOB, [TaskSeed(i, {"domain": f"d{i % 7}", "topic": f"t{i % 13}"}) for i in range(total)])
        plan_s = time.perf_counter() - started

        claim_ms: list[float] = []
        commit_ms: list[float] = []
        accepted = 0
        wall, cpu = time.perf_counter(), time.process_time()
        while True:
            t0 = time.perf_counter()
            tasks = await store.claim(JOB, OWNER, batch, 60.0)
            t1 = time.perf_counter()
            if not tasks:
                break
            transitions = [accept_for(t) for t in tasks]
            t2 = time.perf_counter()
            results = await store.commit(OWNER, transitions)
            t3 = time.perf_counter()
            claim_ms.append((t1 - t0) * 1000)
            commit_ms.append((t3 - t2) * 1000)
            accepted += sum(r.applied for r in results)
        elapsed, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        counts = await store.counts(JOB)
    finally:
        await store.aclose()

    print(f"store            {url.split(':', 1)[0]}")
    print(f"planned tasks    {total} in {plan_s * 1000:.0f} ms ({total / plan_s:,.0f} tasks/s)")
    print(f"accepted         {accepted} (store counts accepted={counts['accepted']})")
    print(f"batches          {len(commit_ms)} of {batch}")
    print(
        f"commit           {statistics.mean(commit_ms):.1f} ms/batch mean, "
        f"{statistics.median(commit_ms):.1f} median, {max(commit_ms):.1f} max"
    )
    print(f"claim            {statistics.mean(claim_ms):.1f} ms/page mean")
    print(f"commit only      {accepted / (sum(commit_ms) / 1000):,.0f} transitions/s")
    print(f"claim + commit   {accepted / elapsed:,.0f} accepted samples/s (wall)")
    per_batch = cpu_s * 1000 / len(commit_ms)
    print(f"cpu              {per_batch:.1f} ms/batch, whole process ({accepted / cpu_s:,.0f} samples per CPU second)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    if args.url:
        anyio.run(run, args.url, args.samples, args.batch)
        return
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(run, f"sqlite:///{Path(tmp) / 'bench.db'}", args.samples, args.batch)


if __name__ == "__main__":
    main()
