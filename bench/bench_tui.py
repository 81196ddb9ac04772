"""Dashboard cost on a big store: one refresh against 1 000 000 tasks, and a running job's speed beside it.

    python bench/bench_tui.py [--tasks 1000000] [--samples 3000] [--repeat 5] [--runs 3]

1. A SQLite store gets a job of `--tasks` tasks (bulk SQL inserts: 70 % accepted, 5 % rejected,
   the rest pending), a few hundred events and a rejected task to inspect.
2. One refresh of each view (`Dashboard.tick`: the store reads of that view, then drawing at
   100x30) is timed, median of `--repeat`, and printed beside one `counts` query of the same job in
   the same run: the ratio says how many `counts` a refresh costs, whatever the machine's speed.
3. A mock job of `--samples` samples runs with `destiler run` on that store `--runs` times alone
   and as often with a dashboard refreshing every half second from another process (the
   session's refresh loop with drawing, minus the terminal), interleaved; the median samples/s
   of each and their ratio are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from destilation import Event, JobState
from destilation.interfaces import StateStore
from destilation_sql.store import SqlStore
from destilation_tui import dashboard as dash
from destilation_tui import session

BIG = "big"


async def build(url: str, db: Path, total: int) -> None:
    store = SqlStore(url)
    await store.open()
    try:
        await store.create_job(BIG, {"name": BIG, "template": "simple"}, total)
        await store.set_job_state(BIG, JobState.PAUSED, "built by bench_tui")
        await store.add_events([Event("bench", BIG, f"event {i}", at=time.time()) for i in range(300)])
    finally:
        await store.aclose()
    reasons = json.dumps(
        [{"code": "schema", "message": "missing answer", "path": "$", "hint": None, "severity": "error"}]
    )

    def rows():  # type: ignore[no-untyped-def]
        for i in range(total):
            state = "accepted" if i % 20 < 14 else "rejected" if i % 20 == 14 else "pending"
            axes = json.dumps({"topic": f"t{i % 13}", "domain": f"d{i % 7}"})
            yield (BIG, i, axes, None, state, 1, None, None, reasons if state == "rejected" else None)

    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO tasks (job, idx, axes, row, state, attempts, lease_owner, lease_expires, reasons)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        conn.execute("UPDATE jobs SET planned = ? WHERE name = ?", (total, BIG))


async def time_refreshes(url: str, repeat: int) -> None:
    store = SqlStore(url)
    await store.open(create=False)
    try:
        reference = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            await store.counts(BIG)
            reference.append(time.perf_counter() - t0)
        counts_s = statistics.median(reference)
        print(f"one counts query on {BIG}: {counts_s * 1000:.1f} ms (reference)")
        board = dash.Dashboard(store_url=url, job=BIG)
        for view, (name, _) in enumerate(dash.VIEWS):
            board.view, board.inspected = view, 14
            took = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await board.tick(store)
                board.widget.render((100, 30))
                took.append(time.perf_counter() - t0)
            refresh_s = statistics.median(took)
            print(f"  refresh of {name:<9}: {refresh_s * 1000:7.1f} ms = {refresh_s / counts_s:5.2f} x counts")
    finally:
        await store.aclose()


def watch(url: str) -> None:
    """A dashboard without a terminal: the session's refresh loop, drawing into memory, until killed."""
    board = dash.Dashboard(store_url=url)

    async def open_store(stack: AsyncExitStack) -> StateStore:
        store = SqlStore(url)
        await stack.enter_async_context(store)
        await store.open(create=False)
        return store

    anyio.run(lambda: session.serve(board, open_store, lambda: board.widget.render((100, 30))))


def run_job(workdir: Path, url: str, name: str, samples: int) -> float:
    """Samples/s of a mock job run by `destiler run`, from its own span in the store."""
    job = workdir / f"{name}.toml"
    job.write_text(
        f'name = "{name}"\ncount = {samples}\n[axes]\ntopic = ["tides", "bees", "taxes"]\n'
        '[providers.teacher]\nkind = "mock"\nconcurrency = 64\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    env.update(DESTILATION_DB=url, DESTILATION_DATA_DIR=str(workdir / "data"))
    subprocess.run([sys.executable, "-m", "destilation", "run", str(job)], env=env, check=True, capture_output=True)
    with sqlite3.connect(workdir / "store.db") as conn:
        created, finished = conn.execute("SELECT created_at, finished_at FROM jobs WHERE name = ?", (name,)).fetchone()
    return samples / (finished - created)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3, help="job runs with and without the dashboard")
    parser.add_argument("--watch", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch(args.watch)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = workdir / "store.db"
        url = f"sqlite:///{db}"
        t0 = time.perf_counter()
        anyio.run(build, url, db, args.tasks)
        print(f"store with {args.tasks} tasks built in {time.perf_counter() - t0:.1f} s")
        anyio.run(time_refreshes, url, args.repeat)
        alone, watched = [], []
        for run in range(args.runs):  # interleaved, so a machine's drift hits both alike
            alone.append(run_job(workdir, url, f"alone{run}", args.samples))
            watcher = subprocess.Popen([sys.executable, __file__, "--watch", url])
            try:
                time.sleep(2)  # the dashboard is up and refreshing before the job starts
                watched.append(run_job(workdir, url, f"watched{run}", args.samples))
            finally:
                watcher.kill()
                watcher.wait()
        a, w = statistics.median(alone), statistics.median(watched)
        print(f"running job alone:             {a:8.0f} samples/s (median of {args.runs})")
        print(f"with the dashboard refreshing: {w:8.0f} samples/s ({w / a:.2f} x)")


if __name__ == "__main__":
    main()
