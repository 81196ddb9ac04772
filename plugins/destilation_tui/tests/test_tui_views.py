"""Each view, rendered at 80x24 from a real (memory) store, shows what the store holds."""

from __future__ import annotations

import pytest

from destilation.domain import Attempt, Event, Member, TaskSeed, TaskState
from destilation.interfaces import Retry
from destilation.testing import MemoryStore
from destilation_tui import dashboard as dash
from destilation_tui import views
from destilation_tui.dashboard import Dashboard
from destilation_tui.snapshot import WorkerRow

from .conftest import HealthyStore, screen

pytestmark = pytest.mark.anyio


async def shown(store: MemoryStore, view: int, **choices: object) -> tuple[Dashboard, str]:
    board = Dashboard(
        store_url="sqlite:///data/destilation.db", data_dir="data", plugins=["mock (destilation-mock 0.1.0)"]
    )
    board.view = view
    for name, value in choices.items():
        setattr(board, name, value)
    await board.tick(store)
    return board, screen(board)


async def test_dashboard_lists_every_job_with_progress_and_says_no_data_without_health(store: MemoryStore) -> None:
    _, text = await shown(store, dash.DASHBOARD)
    lines = text.splitlines()
    assert lines[0].startswith("destiler tui [dashboard] job ")
    qa = next(line for line in lines if " qa " in line)
    assert qa.startswith("> qa") and "running" in qa and "[#####.....]  50%" in qa
    assert "67%" in qa  # 4 accepted of 6 finished tasks: the pass rate without attempt totals
    old = next(line for line in lines if " old " in line)
    assert "done" in old and "100%" in old
    assert "Throughput, all jobs, last 5 min" in text
    assert "Provider health (qa)" in text and "no data (no provider health recorded for this job)" in text
    assert "p pause r resume c cancel d delete" in lines[-2] + lines[-1]
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)


async def test_dashboard_shows_health_summed_over_processes(healthy: HealthyStore) -> None:
    _, text = await shown(healthy, dash.DASHBOARD)
    row = next(line for line in text.splitlines() if line.startswith("  teacher"))
    # 15 requests from two processes, 1 error, worst p95, in flight summed over limits, worst circuit
    assert row.split() == ["teacher", "mock-1", "15", "7%", "0.20s", "0.90s", "4/16", "half_open"]
    assert "last error: HTTP 500 from teacher" in text
    qa = next(line for line in text.splitlines() if " qa " in line)
    # 6 of 10 attempts passed; 2 provider errors in 16 requests: 1 in the health rows (15 requests)
    # and 1 an older run recorded as an attempt
    assert qa.split()[-2:] == ["60%", "12%"]


async def test_job_detail_shows_bars_counts_axes_and_cost(healthy: HealthyStore) -> None:
    _, text = await shown(healthy, dash.JOB, job="qa")
    assert "Job qa: running" in text
    assert "4/8 accepted (50%)" in text
    assert "planned 10 tasks" in text
    assert "accepted  [############..................] 4" in text
    assert "rejected  [######........................] 2" in text
    assert "template simple · providers teacher (mock, mock-1)" in text
    assert "sk-secret" not in text
    assert "attempts 10 · invalid 3 · provider errors 2 · cost $0.0125 (no budget)" in text
    assert "topic = optics" in text and "5 tasks     2 accepted" in text
    by_provider = next(row for row in text.splitlines() if row.startswith("  teacher (mock-1)"))
    # two processes' rows: 15 requests, 14 ok, their tokens and cost added up
    assert by_provider.split()[2:] == ["15", "req", "14", "ok", "3000", "tokens", "$0.0200"]


async def test_job_detail_without_totals_or_selection(store: MemoryStore) -> None:
    _, text = await shown(store, dash.JOB, job="old")
    assert "Job old: done" in text and "1 sample accepted" in text
    assert "providers (the global config's)" in text
    assert "no data (the store keeps no attempt totals)" in text
    assert "By provider and model" in text and "no data (no provider health recorded for this job)" in text
    assert "no data (these tasks have no axis values)" in text
    _, empty = await shown(MemoryStore(), dash.JOB)
    assert "no job selected" in empty


async def test_tasks_view_lists_tasks_failures_and_the_jobs_members(store: MemoryStore) -> None:
    _, nobody = await shown(store, dash.TASKS, job="qa")
    assert "Workers and machines" in nobody and "none working this job" in nobody
    await store.beat_member(Member("qa", "w1", "gpu-box-1", 4242, "worker", 1.0, in_flight=3, rate=2.5))
    board, text = await shown(store, dash.TASKS, job="qa")
    member = next(row for row in text.splitlines() if "gpu-box-1" in row)
    assert member.split() == ["gpu-box-1", "4242", "worker", "3", "2.5"]
    assert [w.text for w in views.worker_lines(None)] == ["  no data (no job's tasks in view)"]
    assert "no attempts recorded; 4 accepted, 2 rejected" in text
    assert "2  [schema] missing answer" in text
    assert "Tasks of qa (state: all; #0-9, 200 a page)" in text
    assert "> 0        accepted" in text
    board.task_state = TaskState.REJECTED
    await board.tick(store)
    rejected = screen(board, (80, 30))
    assert "state: rejected" in rejected and "[schema] at $: missing answer" in rejected
    assert "accepted " not in rejected.split("TASK")[-1]


async def test_tasks_view_validation_line_with_totals(healthy: HealthyStore) -> None:
    _, text = await shown(healthy, dash.TASKS, job="qa")
    assert "10 attempts: 6 passed (60%), 3 invalid, 2 provider errors" in text


async def test_inspector_shows_attempts_feedback_and_sample(store: MemoryStore) -> None:
    _, text = await shown(store, dash.INSPECT, job="qa", inspected=4)
    assert "Task qa/4: rejected after 1 attempt" in text
    assert "axes: topic = optics" in text
    assert "Attempt 1 on teacher/mock-1: failed, 0.00s" in text
    assert "feedback: [json] at $: not JSON (hint: answer JSON)" in text
    assert "Rejected: [schema] at $: missing answer" in text
    _, accepted = await shown(store, dash.INSPECT, job="qa", inspected=0)
    assert "Response (accepted sample" in accepted and '"answer": "sample 0"' in accepted
    _, none = await shown(store, dash.INSPECT, job="qa")
    assert "no task chosen" in none


async def test_events_view_newest_last_and_filtered(store: MemoryStore) -> None:
    board, text = await shown(store, dash.EVENTS)
    lines = [line for line in text.splitlines() if " info " in line or " error " in line]
    assert [line.split()[3].rstrip(":") for line in lines] == ["job_started", "provider_error", "job_done"]
    assert "job=any provider=any severity=any" in text
    board.events = board.events.parse("severity=error")
    board.redraw()
    filtered = screen(board)
    assert "provider_error [teacher]: HTTP 500 from teacher" in filtered and "job_started" not in filtered


async def test_settings_show_store_data_dir_plugins_and_jobs(store: MemoryStore) -> None:
    _, text = await shown(store, dash.SETTINGS)
    assert "store     sqlite:///data/destilation.db" in text
    assert "data dir  data" in text
    assert "mock (destilation-mock 0.1.0)" in text
    assert "> qa" in text and "not finished" in text
    assert "old                      done      1/1  finished" in text


async def test_an_empty_store_says_how_to_start(tmp_path: object) -> None:
    for view, says in (
        (dash.DASHBOARD, "no jobs in this store yet"),
        (dash.SETTINGS, "no jobs in this store yet"),
        (dash.TASKS, "no job selected: pick one on the dashboard"),
    ):
        _, text = await shown(MemoryStore(), view)
        assert says in text


async def test_every_view_fits_a_small_terminal_and_a_resize(store: MemoryStore) -> None:
    for view in range(len(dash.VIEWS)):
        board, _ = await shown(store, view, job="qa", inspected=0)
        for size in ((80, 24), (60, 12), (120, 40)):
            rows = screen(board, size).splitlines()
            assert len(rows) == size[1] and all(len(r) <= size[0] for r in rows)
            assert rows[0].startswith("destiler tui")


async def test_inputs_errors_and_event_data_show_redacted() -> None:
    store = MemoryStore()
    await store.create_job("rows", {"name": "rows"}, 1)
    await store.add_tasks("rows", [TaskSeed(0, row={"question": "why is the sky blue?"})])
    (task,) = await store.claim("rows", "w", 1, 300)
    failed = Attempt(1, "teacher", "", ok=False, error="401 for key sk-or-v1-0123456789abcdef0123")
    await store.commit("w", [Retry(task, failed)])
    await store.add_events([Event("provider_error", "rows", "bad key", data={"status": 401, "api_key": "x"})])
    _, text = await shown(store, dash.INSPECT, job="rows", inspected=0)
    assert 'input: {"question": "why is the sky blue?"}' in text
    assert "Attempt 1 on teacher: failed" in text and "error: 401 for key ***" in text
    assert "sk-or-v1" not in text
    _, events = await shown(store, dash.EVENTS, detail=1)
    assert '"status": 401' in events and '"api_key": "x"' not in events


def test_worker_rows_show_once_a_store_reports_them() -> None:
    assert [w.text for w in views.worker_lines(())] == ["  none working this job"]
    rows = views.worker_lines([WorkerRow("gpu-box-1", 4242, "working", 12, 31.5), WorkerRow("laptop", 7, "idle")])
    texts = [w.text.split() for w in rows]
    assert texts[0] == ["HOST", "PID", "STATE", "FLIGHT", "SAMPLES/S"]
    assert texts[1:] == [["gpu-box-1", "4242", "working", "12", "31.5"], ["laptop", "7", "idle", "0", "-"]]


async def test_a_job_named_by_option_is_waited_for(store: MemoryStore) -> None:
    board = Dashboard(job="later")
    await board.tick(store)
    assert board.job == "later" and "no job named 'later' in this store yet" in screen(board)
    board.view = dash.TASKS
    board.redraw()
    assert "no job named 'later' in this store yet" in screen(board)
    await store.create_job("later", {"name": "later"}, 5)
    board.view = dash.JOB
    await board.tick(store)
    assert "Job later: pending" in screen(board)
