"""End-to-end benchmark: real `destiler run`s through the whole pipeline, against a reference.

1. HTTP: a fake OpenAI-compatible server in its own process (`bench/fake_server.py`: latency,
   optional 429s and 500s) and a job of N samples on the `openai` provider kind: HTTP,
   validation, SQLite store, JSONL. In the same run, the reference client
   (`bench/reference_client.py`, a bare aiohttp loop in its own process) sends the same request
   bodies (those `destiler` sent, recorded by the server) at the same concurrency to the same
   server, retries the same faults and writes the answers to a JSONL file. Every `destiler`
   figure is also printed as a ratio to the reference's, so a slow moment of a shared machine
   neither hides nor fakes a change.
2. Mock: a job of M samples on the in-process mock provider at 0 ms.

Prints wall time (spawn to exit), accepted samples/s, CPU ms per sample and peak RSS of the
process (its rusage, which counts the workers it forked and reaped; peak RSS is the largest
one's), spawn to first request (the server's clock of the first chat request), and efficiency =
ideal / wall where ideal = N x latency / concurrency. The job run time is the job's own span in
the store, from its creation to its end.

    python bench/run.py                      # 2 000 over HTTP at 200 ms, 500 in flight; 20 000 on the mock
    python bench/run.py --mock 0 --faults    # 10 % 429 (Retry-After 1) and 5 % 500 from the server
    python bench/run.py --mock 0 --http 50000 --concurrency 10000 --latency-ms 5000   # sets workers = 10000
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
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent

AXES = '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees", "optics", "rivers", "markets"]\n'


def start_server(latency_ms: float, faults: bool, record: Path) -> tuple[subprocess.Popen[str], str]:
    """The fake server in its own process (its CPU is not counted); returns it and its `/v1` URL."""
    command = [sys.executable, str(BENCH / "fake_server.py"), "--latency-ms", str(latency_ms), "--record", str(record)]
    if faults:
        command += ["--rate-limited", "0.1", "--retry-after", "1", "--server-errors", "0.05"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    if len(first) != 2 or first[0] != "PORT":
        proc.kill()
        raise SystemExit(f"fake server did not start (got {first!r})")
    return proc, f"http://127.0.0.1:{first[1]}"


def server_stats(root: str) -> dict[str, object]:
    """The server's record since the last reset, then reset it for the next run."""
    with urllib.request.urlopen(f"{root}/bench/stats") as answer:
        stats: dict[str, object] = json.load(answer)
    urllib.request.urlopen(urllib.request.Request(f"{root}/bench/reset", method="POST")).close()
    return stats


def measured(label: str, command: list[str], cwd: Path, env: dict[str, str], root: str | None) -> dict[str, float]:
    """Run `command`; its wall time from spawn to exit, its own rusage and, given the server's
    root URL, the time from spawn to the first chat request the server received."""
    errors = cwd / f"{label}.stderr"  # a file, not a pipe: nothing waits on a full pipe
    with errors.open("wb") as sink:
        spawned, started = time.time(), time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=sink)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:  # a job that could not deliver every sample still has figures to show
        last = (errors.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
        print(f"  note: {label} exited with {code}: {last}")
    figures = {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }
    if root is not None:
        first = server_stats(root)["first_request_at"]
        figures["first_request_s"] = float(first) - spawned if isinstance(first, (int, float)) else float("nan")
    return figures


def destiler_run(workdir: Path, job: Path, root: str | None = None) -> dict[str, float]:
    """Run `destiler run JOB` in its own process; return wall time and that process's own usage."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    env["DESTILATION_DATA_DIR"] = str(workdir / "data")
    figures = measured("destiler", [sys.executable, "-m", "destilation", "run", str(job)], workdir, env, root)
    dataset = workdir / "data" / job.stem / "data.jsonl"
    lines = dataset.read_text(encoding="utf-8").splitlines() if dataset.exists() else []
    # The job's own span, from the store: created (after start-up and imports) to finished.
    with sqlite3.connect(workdir / "data" / "destilation.db") as db:
        created, finished = db.execute(
            "SELECT created_at, finished_at FROM jobs WHERE name = ?", (job.stem,)
        ).fetchone()
    job_s = finished - created if finished is not None else float("nan")  # a job that did not finish
    return {**figures, "job_s": job_s, "accepted": len(lines)}


def reference_run(workdir: Path, root: str, bodies: Path, count: int, concurrency: int) -> dict[str, float]:
    """Run the reference client on the same bodies, concurrency and server."""
    out = workdir / "reference.jsonl"
    command = [sys.executable, str(BENCH / "reference_client.py"), f"{root}/v1/chat/completions", str(bodies)]
    command += [str(out), "--count", str(count), "--concurrency", str(concurrency)]
    figures = measured("reference", command, workdir, dict(os.environ), root)
    return {**figures, "accepted": len(out.read_text(encoding="utf-8").splitlines())}


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


def line(label: str, values: list[float], fmt: str, unit: str = "", note: str = "") -> None:
    """One figure: the median over the runs, and their range when there are several."""
    shown = f"{format(statistics.median(values), fmt)}{unit}"
    if len({format(v, fmt) for v in values}) > 1:
        shown += f" (median of {len(values)}: {format(min(values), fmt)}-{format(max(values), fmt)}{unit})"
    print(f"  {label:<26} {shown}{note}")


def report(title: str, runs: list[dict[str, float]], ideal_s: float | None) -> None:
    """One line per figure of `destiler`'s runs."""
    accepted = [r["accepted"] for r in runs]
    print(f"\n{title}")
    line("accepted samples", accepted, ".0f")
    line("wall time", [r["wall_s"] for r in runs], ".2f", " s", "; process start and set-up included")
    line("accepted samples/s", [r["accepted"] / r["wall_s"] for r in runs], ".0f")
    line("job run time", [r["job_s"] for r in runs], ".2f", " s", "; created to finished in the store: no start-up")
    line("accepted samples/s", [r["accepted"] / r["job_s"] for r in runs], ".0f", "", " over the job run time")
    line("CPU ms per sample", [1000 * r["cpu_s"] / max(r["accepted"], 1) for r in runs], ".3f")
    line("peak RSS", [r["peak_rss_mb"] for r in runs], ".0f", " MB")
    if "first_request_s" in runs[0]:
        line("spawn to first request", [r["first_request_s"] for r in runs], ".2f", " s")
    if ideal_s is not None:
        print(f"  {'ideal wall time':<26} {ideal_s:.2f} s")
        line("efficiency", [ideal_s / r["wall_s"] for r in runs], ".2f")


def compare(ours: list[dict[str, float]], reference: list[dict[str, float]], ideal_s: float) -> None:
    """The reference's figures, then each of ours against the reference of the same round."""
    print("\n  reference client (bare aiohttp, same bodies, concurrency and server):")
    line("accepted samples", [r["accepted"] for r in reference], ".0f")
    line("wall time", [r["wall_s"] for r in reference], ".2f", " s")
    line("CPU ms per sample", [1000 * r["cpu_s"] / max(r["accepted"], 1) for r in reference], ".3f")
    line("peak RSS", [r["peak_rss_mb"] for r in reference], ".0f", " MB")
    line("spawn to first request", [r["first_request_s"] for r in reference], ".2f", " s")
    line("efficiency", [ideal_s / r["wall_s"] for r in reference], ".2f")
    pairs = list(zip(ours, reference, strict=True))
    print("\n  destiler / reference (per round, then the median):")
    line("wall", [o["wall_s"] / r["wall_s"] for o, r in pairs], ".2f", "x")
    per_sample = [(o["cpu_s"] / max(o["accepted"], 1)) / (r["cpu_s"] / max(r["accepted"], 1)) for o, r in pairs]
    line("CPU per sample", per_sample, ".2f", "x")
    line("spawn to first request", [o["first_request_s"] - r["first_request_s"] for o, r in pairs], "+.2f", " s")
    line("peak RSS", [o["peak_rss_mb"] / r["peak_rss_mb"] for o, r in pairs], ".2f", "x")


def http_bench(
    workdir: Path, count: int, latency_ms: float, concurrency: int, processes: str, repeat: int, faults: bool
) -> None:
    """`repeat` rounds of one `destiler run` and one reference run against one fake server."""
    record = workdir / "recorded-bodies.jsonl"
    server, root = start_server(latency_ms, faults, record)
    bodies = workdir / "bodies.jsonl"
    ours: list[dict[str, float]] = []
    reference: list[dict[str, float]] = []
    try:
        job_text = (
            f'name = "bench_http"\ncount = {count}\nseed = 1\n{processes}{AXES}'
            f'[providers.fake]\nkind = "openai"\nmodel = "fake-model"\nconcurrency = {concurrency}\n'
            f'base_url = "{root}/v1"\n'
        )
        for number in range(1, repeat + 1):
            run_dir = workdir / f"bench_http-{number}"
            run_dir.mkdir()
            job = run_dir / "bench_http.toml"
            job.write_text(job_text, encoding="utf-8")
            ours.append(destiler_run(run_dir, job, root))
            if number == 1:  # the bodies destiler's first run had answered: the reference sends the same
                with record.open(encoding="utf-8") as recorded, bodies.open("w", encoding="utf-8") as chosen:
                    chosen.writelines(line for _, line in zip(range(count), recorded, strict=False))
            reference.append(reference_run(run_dir, root, bodies, count, concurrency))
    finally:
        server.terminate()
        server.wait()
    ideal = count * latency_ms / 1000 / concurrency
    shown = " with 10 % 429 (Retry-After 1) and 5 % 500" if faults else ""
    report(f"HTTP pipeline: {count} samples, {latency_ms:.0f} ms latency, {concurrency} in flight{shown}", ours, ideal)
    compare(ours, reference, ideal)


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
    parser.add_argument("--faults", action="store_true", help="10 %% of requests get 429 (Retry-After 1), 5 %% 500")
    parser.add_argument("--processes", type=int, help="processes per job (default: the job's automatic split)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each job; figures are their medians")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and print its path")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="destilation-bench-"))
    print(json.dumps({"cpus": os.cpu_count(), "python": sys.version.split()[0]}))
    processes = "" if args.processes is None else f"processes = {args.processes}\n"
    if args.http:
        # The automatic slot count follows at most 1 000 requests in flight: past that, `workers` says how many.
        workers = f"workers = {args.concurrency}\n" if args.concurrency > 1000 else ""
        http_bench(workdir, args.http, args.latency_ms, args.concurrency, processes + workers, args.repeat, args.faults)
    if args.mock:
        mock_bench(workdir, args.mock, processes, args.repeat)
    if args.keep:
        print(f"\nwork folder: {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
