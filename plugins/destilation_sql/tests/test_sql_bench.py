"""The store benchmark keeps running: a small run of bench/bench_store.py as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_store.py"


@pytest.mark.skipif(not BENCH.exists(), reason="bench/bench_store.py is not part of this checkout")
def test_bench_store_runs_and_reports_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--samples", "1200", "--batch", "500"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "accepted         1200 (store counts accepted=1200)" in done.stdout
    assert "batches          3 of 500" in done.stdout
    assert "transitions/s" in done.stdout
