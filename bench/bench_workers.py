"""Throughput against worker processes: one `destiler run` and 0, 1 or 3 `destiler worker`s of one job.

A fake OpenAI-compatible server (`bench/fake_server.py`, its own process) answers after a fixed
latency with no limit of its own, so the provider has capacity for every process; each process
keeps `--concurrency` requests in flight. For 1, 2 and 4 worker processes (the run counts as
one) a fresh job of `--count` samples runs on PostgreSQL; the job's span comes from the store
(created to finished). Prints samples/s and the ratio to one process: it grows with the
processes while the provider allows it, and flattens once the machine's cores are the limit.

    DESTILATION_TEST_DATABASE_URL=postgresql://user@host/db python bench/bench_workers.py
    python bench/bench_workers.py --db postgresql://user@host/db --count 2000 --latency-ms 200
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from run import AXES, start_server

PROCESSES = (1, 2, 4)


def schema_url(base: str, schema: str) -> str:
    """`base` with its own search_path, so each round is a fresh store."""
    options = f"options=-csearch_path%3D{schema}"
    return f"{base}&{options}" if "?" in base else f"{base}?{options}"


def with_schema(base: str, schema: str, create: bool) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"' if create else f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


def create_store(url: str) -> None:
    import anyio

    from destilation_sql.store import SqlStore

    async def create() -> None:
        store = SqlStore(url)
        await store.open()
        await store.aclose()

    anyio.run(create)


def job_span(url: str, name: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        created, finished = conn.execute(
            text("SELECT created_at, finished_at FROM jobs WHERE name = :n"), {"n": name}
        ).one()
    engine.dispose()
    return finished - created if finished is not None else float("nan")


def one_round(workdir: Path, base: str, root: str, processes: int, count: int, concurrency: int) -> float:
    """Samples/s of one job worked by `processes` processes."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with_schema(base, schema, create=True)
    url = schema_url(base, schema)
    create_store(url)  # workers open an existing store only
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    env["DESTILATION_DATA_DIR"] = str(workdir / schema)
    name = "bench_workers"
    job = workdir / f"{schema}.toml"
    job.write_text(
        f'name = "{name}"\ncount = {count}\nseed = 1\nprocesses = 1\n{AXES}'
        f'[providers.fake]\nkind = "openai"\nmodel = "fake-model"\nconcurrency = {concurrency}\n'
        f'base_url = "{root}/v1"\n',
        encoding="utf-8",
    )
    destiler = [sys.executable, "-m", "destilation", "--db", url]
    # Started first and told no job: each serves the job as soon as the run sets it running.
    workers = [
        subprocess.Popen([*destiler, "worker"], env=env, stdout=subprocess.DEVNULL) for _ in range(processes - 1)
    ]
    try:
        time.sleep(1.0 if workers else 0.0)  # their start-up is not the job's
        done = subprocess.run([*destiler, "run", str(job)], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the run failed: {done.stderr.strip()}")
        return count / job_span(url, name)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait()
        with_schema(base, schema, create=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("DESTILATION_TEST_DATABASE_URL"), help="a PostgreSQL URL")
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=25, help="requests in flight per process")
    args = parser.parse_args()
    if not args.db:
        raise SystemExit("give a PostgreSQL URL with --db or DESTILATION_TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server, root = start_server(args.latency_ms, False, workdir / "recorded.jsonl")
        try:
            rates = {n: one_round(workdir, args.db, root, n, args.count, args.concurrency) for n in PROCESSES}
        finally:
            server.terminate()
            server.wait()
    print(f"{args.count} samples at {args.latency_ms:g} ms, {args.concurrency} in flight per process")
    for n, rate in rates.items():
        print(f"{n} process{'es' if n > 1 else '  '}: {rate:8.1f} samples/s   x{rate / rates[1]:.2f}")


if __name__ == "__main__":
    main()
