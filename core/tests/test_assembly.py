"""How a job splits over processes: shares of slots and concurrency, and the automatic process count."""

from __future__ import annotations

import os

import pytest

from destilation.config import JobSpec, ProviderSpec
from destilation.engine.assembly import AUTO_MAX_PROCESSES, Prepared, share


def prepared(concurrency: int = 256, **spec: object) -> Prepared:
    job = JobSpec(name="j", providers={"t": ProviderSpec("mock", concurrency=concurrency)}, **spec)  # type: ignore[arg-type]
    return Prepared(job, None, None, None, [], None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("total", "parts", "each"), [(500, 2, 250), (5, 2, 3), (1, 4, 1), (0, 3, 1)])
def test_a_share_rounds_up_and_is_never_zero(total: int, parts: int, each: int) -> None:
    assert share(total, parts) == each


def test_slots_are_the_spec_workers_or_the_providers_concurrency() -> None:
    assert prepared(concurrency=40).slots == 40
    assert prepared(concurrency=40, workers=7).slots == 7
    assert prepared(concurrency=5000).slots == 1000


def test_the_spec_decides_the_process_count_when_it_names_one() -> None:
    assert prepared(count=10, processes=3).processes() == 3


def test_small_jobs_run_in_one_process() -> None:
    assert prepared(count=999).processes() == 1


def test_large_jobs_split_over_the_cores_up_to_a_cap_keeping_enough_tasks_per_process() -> None:
    cores = os.cpu_count() or 1
    assert prepared(count=5000, concurrency=1000).processes() == min(cores, AUTO_MAX_PROCESSES)
    assert prepared(count=5000, concurrency=40).processes() == 1  # 40 tasks in flight: one process
    assert prepared(count=5000, concurrency=64).processes() == min(cores, 2)
