"""Keys move, open, filter and steer; cancel and delete ask first; the footer shows what applies."""

from __future__ import annotations

import anyio
import attrs
import pytest
import urwid

from destilation.domain import JobState, TaskState
from destilation.interfaces import StateStore
from destilation.testing import MemoryStore
from destilation_tui import dashboard as dash
from destilation_tui.dashboard import Dashboard

from .conftest import screen

pytestmark = pytest.mark.anyio


def press(board: Dashboard, *keys: str) -> str:
    for key in keys:
        board.widget.keypress((80, 24), key)
    return screen(board)


async def ready(store: MemoryStore, **options: object) -> Dashboard:
    board = Dashboard(**options)  # type: ignore[arg-type]
    await board.tick(store)
    return board


async def test_tab_cycles_views_and_the_header_marks_the_current_one(store: MemoryStore) -> None:
    board = await ready(store)
    seen = []
    for _ in dash.VIEWS:
        seen.append(screen(board).splitlines()[0].split("[")[1].split("]")[0])
        press(board, "tab")
    assert seen == [name for name, _ in dash.VIEWS]
    assert board.view == dash.DASHBOARD
    press(board, "shift tab")
    assert board.view == dash.SETTINGS


async def test_moving_and_enter_open_a_job_then_a_task(store: MemoryStore) -> None:
    board = await ready(store)
    assert board.job == "qa"
    press(board, "down")
    assert board.job == "old"
    press(board, "j", "k", "up", "up")
    assert board.job == "qa"
    press(board, "enter")
    assert board.view == dash.JOB
    press(board, "tab")
    await board.tick(store)
    press(board, "j", "down")
    assert board.task_cursor == 2
    text = press(board, "enter")
    assert board.view == dash.INSPECT and board.inspected == 2
    await board.tick(store)
    assert "Task qa/2" in screen(board)
    press(board, "tab", "i")
    assert board.view == dash.INSPECT  # i goes back to the task last inspected
    assert "Task" in text


async def test_open_where_there_is_nothing_to_open_says_so(store: MemoryStore) -> None:
    board = await ready(MemoryStore())
    text = press(board, "enter")
    assert "nothing to open here" in text
    assert board.view == dash.DASHBOARD


async def test_pause_is_written_to_the_store(store: MemoryStore) -> None:
    board = await ready(store)
    press(board, "p")
    assert board.queue  # nothing is written before the next tick
    await board.tick(store)
    record = await store.get_job("qa")
    assert record is not None and record.state is JobState.PAUSED
    assert record.message == "paused from `destiler tui`"
    assert "qa: paused" in screen(board)
    press(board, "p")
    await board.tick(store)
    assert "error: qa is paused: nothing to pause" in screen(board)


async def test_cancel_asks_and_only_y_cancels(store: MemoryStore) -> None:
    board = await ready(store)
    text = press(board, "c")
    assert "Cancel job 'qa'? y confirms, any other key keeps it" in text
    text = press(board, "n")
    assert "cancel qa: not done" in text
    await board.tick(store)
    assert (await store.get_job("qa")).state is JobState.RUNNING  # type: ignore[union-attr]
    press(board, "c", "y")
    await board.tick(store)
    assert (await store.get_job("qa")).state is JobState.CANCELLED  # type: ignore[union-attr]
    assert "qa: cancelled" in screen(board)
    press(board, "c", "y")
    await board.tick(store)
    assert "error: job 'qa' is already cancelled" in screen(board)


async def test_delete_asks_refuses_a_running_job_and_deletes_a_finished_one(store: MemoryStore) -> None:
    board = await ready(store)
    press(board, "d", "y")
    await board.tick(store)
    assert "error: qa is running: pause or cancel it before deleting" in screen(board)
    press(board, "tab", "shift tab", "down", "d")
    assert "Delete job 'old'?" in screen(board)
    press(board, "esc")
    await board.tick(store)
    assert await store.get_job("old") is not None
    press(board, "d", "Y")
    await board.tick(store)
    assert await store.get_job("old") is None
    assert "deleted job 'old' from the store (its dataset folder stays)" in screen(board)
    assert board.job == "qa"  # the selection moves to a job that is still there


async def test_resume_runs_the_resume_operation_for_the_selected_job(store: MemoryStore) -> None:
    asked: list[str] = []

    async def resume(store: StateStore, job: str) -> str:
        asked.append(job)
        return f"{job}: resuming"

    board = await ready(store, resume=resume)
    press(board, "r")
    await board.tick(store)
    assert asked == ["qa"] and "qa: resuming" in screen(board)


async def test_steering_needs_a_job_and_a_store(store: MemoryStore) -> None:
    board = Dashboard()
    board.banner = None
    assert "no job selected" in press(board, "p")
    board = await ready(store)
    press(board, "p")  # queued, then the store goes away before the next tick
    board.disconnected(OSError("database is gone"))
    assert not board.queue and "not done: the store is unreachable" in screen(board)
    board.status = ""
    text = press(board, "p")
    assert "store unreachable, reconnecting: database is gone" in text
    assert "not done: the store is unreachable" in text and not board.queue


async def test_filter_cycles_task_states_and_pages(store: MemoryStore) -> None:
    board = await ready(store)
    board.view = dash.TASKS
    states = []
    for _ in range(len(dash.TASK_FILTERS)):
        press(board, "f")
        states.append(board.task_state)
    assert states == [*TaskState, None]
    await board.tick(store)
    assert "this is the last page" in press(board, "]")
    press(board, "[")
    assert board.task_offset == 0
    board.view = dash.DASHBOARD
    assert "[ and ] page through the tasks view" in press(board, "]")
    assert "f filters the tasks and events views" in press(board, "f")


async def test_a_full_page_has_a_next_page(store: MemoryStore) -> None:
    board = await ready(store)
    board.view = dash.TASKS
    await board.tick(store)
    board.snapshot = attrs.evolve(board.snapshot, tasks=board.snapshot.tasks[:1] * 200)
    board.widget.keypress((80, 24), "]")
    assert board.task_offset == 200
    board.widget.keypress((80, 24), "[")
    assert board.task_offset == 0


async def test_event_filter_is_typed_in_the_footer(store: MemoryStore) -> None:
    board = await ready(store)
    board.view = dash.EVENTS
    text = press(board, "f")
    assert "filter (job=NAME provider=NAME severity=LEVEL):" in text
    press(board, *"job=qa", "enter")
    assert board.events.job == "qa"
    await board.tick(store)
    assert "job_done" not in screen(board)
    text = press(board, "f")
    assert "severity=LEVEL): job=qa" in text
    press(board, *" colour=red", "enter")
    assert "filter not changed: 'colour=red'" in screen(board)
    assert board.events.job == "qa"
    press(board, "f", "x", "esc")
    assert board.filter_edit is None and board.events.job == "qa"


async def test_scrolling_views_stop_at_their_ends(store: MemoryStore) -> None:
    board = await ready(store)
    board.view = dash.JOB
    await board.tick(store)
    press(board, "up")
    assert board.scroll == 0
    screen(board, (80, 12))  # the window learns its height when drawn
    for _ in range(40):
        board.widget.keypress((80, 12), "j")
    assert board.scroll == len(board.body.lines) - board.body.rows > 0
    assert screen(board, (80, 12)).splitlines()[-3].endswith("accepted")  # the last axis line, above the footer
    board.view = dash.EVENTS
    press(board, "page up")
    assert board.scroll == 0  # fewer events than rows: nothing to scroll


async def test_detail_help_and_quit(store: MemoryStore) -> None:
    board = await ready(store)
    assert "  8/8" not in screen(board)
    press(board, "v")
    assert board.detail == 1 and "4/8" in screen(board)
    text = press(board, "?")
    assert "Keys" in text and "cancel it, after you confirm with y" in text
    assert all(len(row) <= 78 for row in dash.HELP)  # nothing cut at 80 columns
    press(board, "p")  # keys still work under the help
    assert board.queue
    text = press(board, "esc")
    assert "Jobs" in text
    with pytest.raises(urwid.ExitMainLoop):
        press(board, "q")


def test_footer_keys_name_only_what_applies() -> None:
    assert "d delete" in dash.footer_keys(dash.SETTINGS) and "p pause" not in dash.footer_keys(dash.SETTINGS)
    assert "f filter" in dash.footer_keys(dash.EVENTS)
    for view in range(len(dash.VIEWS)):
        assert dash.footer_keys(view).endswith("Tab view ? help q quit")


async def test_a_key_that_needs_other_reads_refreshes_at_once(store: MemoryStore) -> None:
    board = await ready(store)
    await board.wait(0)
    press(board, "v")  # drawn differently, read the same
    assert not board._wake.is_set()
    press(board, "tab")  # the job view reads a page of tasks
    assert board._wake.is_set()
    with anyio.fail_after(5):
        await board.wait(60)  # returns at once: the key woke it
