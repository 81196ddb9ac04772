"""How a job splits over processes: shares of slots and concurrency, and the automatic process count."""

from __future__ import annotations

import os

import pytest

from destilation.config import JobSpec, ProviderSpec
from destilation.engine.assembly import (
    AUTO_MAX_PROCESSES,
    AUTO_MIN_ROUNDS,
    MIN_SAMPLES_PER_PROCESS,
    in_flight,
    processes_for,
    share,
    slots_for,
)


def job(concurrency: int = 256, **spec: object) -> JobSpec:
    return JobSpec(name="j", providers={"t": ProviderSpec("mock", concurrency=concurrency)}, **spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(("total", "parts", "each"), [(500, 2, 250), (5, 2, 3), (1, 4, 1), (0, 3, 1)])
def test_a_share_rounds_up_and_is_never_zero(total: int, parts: int, each: int) -> None:
    assert share(total, parts) == each


def test_slots_are_the_spec_workers_or_the_providers_concurrency_and_half_again() -> None:
    assert slots_for(job(concurrency=40)) == 60
    assert slots_for(job(concurrency=41)) == 41 + 21
    assert slots_for(job(concurrency=40, workers=7)) == 7
    assert slots_for(job(concurrency=5000)) == 1500  # however many the providers allow


def test_requests_in_flight_are_the_providers_concurrency_or_fewer_workers() -> None:
    assert in_flight(job(concurrency=40)) == 40
    assert in_flight(job(concurrency=40, workers=7)) == 7
    assert in_flight(job(concurrency=40, workers=700)) == 40
    assert in_flight(job(concurrency=5000)) == 1000


def test_the_spec_decides_the_process_count_when_it_names_one() -> None:
    assert processes_for(job(count=5000, processes=3)) == 3
    assert processes_for(job(count=5000, processes=7)) == 7  # more than the machine's cores: as asked


def test_no_job_gets_more_processes_than_it_can_use() -> None:
    # A process per MIN_SAMPLES_PER_PROCESS samples at most, and one per slot: 1000 for 10 samples forks nothing.
    assert processes_for(job(count=10, processes=1000)) == 1
    assert processes_for(job(count=10)) == 1
    assert processes_for(job(count=MIN_SAMPLES_PER_PROCESS * 3, processes=1000)) == 3
    assert processes_for(job(count=MIN_SAMPLES_PER_PROCESS * 3 + 1, processes=1000)) == 4
    assert processes_for(job(count=5000, processes=8, workers=2)) == 2


def test_small_jobs_run_in_one_process() -> None:
    assert processes_for(job(count=999)) == 1


def test_large_jobs_split_over_the_cores_up_to_a_cap_keeping_enough_tasks_per_process() -> None:
    cores = os.cpu_count() or 1
    assert processes_for(job(count=20_000, concurrency=1000)) == min(cores, AUTO_MAX_PROCESSES)
    assert processes_for(job(count=5000, concurrency=40)) == 1  # 40 tasks in flight: one process
    assert processes_for(job(count=5000, concurrency=64)) == min(cores, 2)


def test_a_job_of_few_rounds_of_requests_runs_in_one_process() -> None:
    """Its last round would wait on one process's share while the other idles, for no gain."""
    cores = os.cpu_count() or 1
    rounds = AUTO_MIN_ROUNDS * 1000
    assert processes_for(job(count=rounds - 1, concurrency=1000)) == 1
    assert processes_for(job(count=rounds, concurrency=1000)) == min(cores, AUTO_MAX_PROCESSES)
    assert processes_for(job(count=1000, concurrency=100)) == 1  # 10 rounds: latency-bound
    assert processes_for(job(count=2000, concurrency=64)) == min(cores, 2)  # 31 rounds
    assert processes_for(job(count=5000, concurrency=1000, processes=2)) == 2  # as asked
