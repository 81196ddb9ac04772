"""Provider health writes: what one process's once-a-second `record_health` costs the store.

Run: ``python bench/bench_health.py [--calls N] [--providers N] [--url URL]``. Each call upserts
one row per provider for one owner, as a call policy does every second; it prints figures only.
The engine commits thousands of samples a second beside it, so a call should take about a
millisecond and never hold the SQLite write lock longer than one small commit does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from destilation import ProviderHealth
from destilation_sql.store import SqlStore

JOB = "bench"


def rows(providers: int, tick: int) -> list[ProviderHealth]:
    return [
        ProviderHealth(
            JOB,
            f"provider-{p}",
            "bench-process",
            model="m",
            requests=tick * 40,
            successes=tick * 39,
            errors={"rate_limited": tick, "server": tick // 3},
            latency_p50_s=0.8,
            latency_p95_s=2.5,
            concurrency_limit=32,
            in_flight=30,
            prompt_tokens=tick * 4000,
            completion_tokens=tick * 9000,
            cost=tick * 0.01,
            last_error="HTTP 429: rate limited",
            details={"structured_output": "json_schema"},
            updated_at=time.time(),
        )
        for p in range(providers)
    ]


async def run(url: str, calls: int, providers: int) -> None:
    store = SqlStore(url)
    await store.open()
    try:
        await store.create_job(JOB, {}, 1)
        ms: list[float] = []
        cpu = time.process_time()
        for tick in range(calls):
            batch = rows(providers, tick)
            t0 = time.perf_counter()
            await store.record_health(batch)
            ms.append((time.perf_counter() - t0) * 1000)
        cpu_s = time.process_time() - cpu
        stored = await store.provider_health(JOB)
    finally:
        await store.aclose()
    print(f"store            {url.split(':', 1)[0]}")
    print(f"calls            {calls} of {providers} rows (rows stored: {len(stored)})")
    print(f"record_health    {statistics.mean(ms):.2f} ms mean, {statistics.median(ms):.2f} median, {max(ms):.2f} max")
    print(f"cpu              {cpu_s * 1000 / calls:.2f} ms per call, whole process")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--providers", type=int, default=4)
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    if args.url:
        anyio.run(run, args.url, args.calls, args.providers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(run, f"sqlite:///{Path(tmp) / 'bench.db'}", args.calls, args.providers)


if __name__ == "__main__":
    main()
