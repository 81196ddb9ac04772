"""End-to-end benchmark: real `destiler run`s through the whole pipeline.

1. HTTP: a fake OpenAI-compatible server in its own process (configurable latency) and a job of
   N samples on the `openai` provider kind: HTTP, validation, SQLite store, JSONL.
2. Mock: a job of M samples on the in-process mock provider at 0 ms.

Prints wall time, accepted samples/s, CPU ms per sample and peak RSS of the `destiler` process
(its rusage, which counts the workers it forked and reaped; peak RSS is the largest one's), and
efficiency = ideal / wall where ideal = N x latency / concurrency. Wall time covers the whole
process, interpreter start and imports included; the job run time is the job's own span in the
store, from its creation to its end.

    python bench/run.py                      # 2 000 over HTTP at 200 ms, 500 in flight; 20 000 on the mock
    python bench/run.py --http 500 --mock 2000 --latency-ms 100 --concurrency 200
    python bench/run.py --processes 1        # everything in one process
    python bench/run.py --repeat 5           # medians of 5 runs each: a shared VM's speed drifts
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
from pathlib import Path

from bench_http import start_server  # the same fake-server launcher as the HTTP-only bench

AXES = '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees", "optics", "rivers", "markets"]\n'


def destiler_run(workdir: Path, job: Path) -> dict[str, float]:
    """Run `destiler run JOB` in its own process; return wall time and that process's own usage."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    env["DESTILATION_DATA_DIR"] = str(workdir / "data")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "destilation", "run", str(job)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out = process.stdout.read().decode() if process.stdout else ""
    err = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"destiler run failed:\n{out}{err}")
    lines = (workdir / "data" / job.stem / "data.jsonl").read_text(encoding="utf-8").splitlines()
    # The job's own span, from the store: created (after start-up and imports) to finished.
    with sqlite3.connect(workdir / "data" / "destilation.db") as db:
        created, finished = db.execute(
            "SELECT created_at, finished_at FROM jobs WHERE name = ?", (job.stem,)
        ).fetchone()
    return {
        "job_s": finished - created,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "accepted": len(lines),
    }


def runs_of(workdir: Path, name: str, job_text: str, repeat: int) -> list[dict[str, float]]:
    """`repeat` runs of one job, each in a fresh folder (a store of its own, so none is 'already done')."""
    runs = []
    for number in range(1, repeat + 1):
        run_dir = workdir / f"{name}-{number}"
        run_dir.mkdir()
        job = run_dir / f"{name}.toml"
        job.write_text(job_text, encoding="utf-8")
        runs.append(destiler_run(run_dir, job))
    return runs


def report(title: str, runs: list[dict[str, float]], ideal_s: float | None) -> None:
    """One line per figure: the median over the runs, and their range when there are several."""

    def line(label: str, values: list[float], fmt: str, unit: str = "", note: str = "") -> None:
        shown = f"{format(statistics.median(values), fmt)}{unit}"
        if len({format(v, fmt) for v in values}) > 1:
            shown += f" (median of {len(values)}: {format(min(values), fmt)}-{format(max(values), fmt)}{unit})"
        print(f"  {label:<21} {shown}{note}")

    accepted = [r["accepted"] for r in runs]
    print(f"\n{title}")
    line("accepted samples", accepted, ".0f")
    line("wall time", [r["wall_s"] for r in runs], ".2f", " s", "; process start and set-up included")
    line("accepted samples/s", [r["accepted"] / r["wall_s"] for r in runs], ".0f")
    line("job run time", [r["job_s"] for r in runs], ".2f", " s", "; created to finished in the store: no start-up")
    line("accepted samples/s", [r["accepted"] / r["job_s"] for r in runs], ".0f", "", " over the job run time")
    line("CPU ms per sample", [1000 * r["cpu_s"] / max(r["accepted"], 1) for r in runs], ".3f")
    line("peak RSS", [r["peak_rss_mb"] for r in runs], ".0f", " MB")
    if ideal_s is not None:
        print(f"  {'ideal wall time':<21} {ideal_s:.2f} s")
        line("efficiency", [ideal_s / r["wall_s"] for r in runs], ".2f")


def http_bench(workdir: Path, count: int, latency_ms: float, concurrency: int, processes: str, repeat: int) -> None:
    server, base_url = start_server(latency_ms)
    try:
        job_text = (
            f'name = "bench_http"\ncount = {count}\nseed = 1\n{processes}{AXES}'
            f'[providers.fake]\nkind = "openai"\nmodel = "fake-model"\nconcurrency = {concurrency}\n'
            f'base_url = "{base_url}"\n'
        )
        runs = runs_of(workdir, "bench_http", job_text, repeat)
    finally:
        server.terminate()
        server.wait()
    ideal = count * latency_ms / 1000 / concurrency
    report(f"HTTP pipeline: {count} samples, {latency_ms:.0f} ms latency, {concurrency} in flight", runs, ideal)


def mock_bench(workdir: Path, count: int, processes: str, repeat: int) -> None:
    job_text = (
        f'name = "bench_mock"\ncount = {count}\nseed = 1\n{processes}{AXES}[providers.mock]\nkind = "mock"\n'
        "concurrency = 1000\n"
    )
    report(f"Mock pipeline: {count} samples at 0 ms", runs_of(workdir, "bench_mock", job_text, repeat), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", type=int, default=2000, help="samples over HTTP (0 to skip)")
    parser.add_argument("--mock", type=int, default=20000, help="samples on the mock (0 to skip)")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--processes", type=int, help="processes per job (default: the job's automatic split)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each job; figures are their medians")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and print its path")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="destilation-bench-"))
    print(json.dumps({"cpus": os.cpu_count(), "python": sys.version.split()[0]}))
    processes = "" if args.processes is None else f"processes = {args.processes}\n"
    if args.http:
        http_bench(workdir, args.http, args.latency_ms, args.concurrency, processes, args.repeat)
    if args.mock:
        mock_bench(workdir, args.mock, processes, args.repeat)
    if args.keep:
        print(f"\nwork folder: {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
