"""The dashboard's state and key handling, apart from any terminal.

`Dashboard` holds what the person chose (view, selection, filters, detail level), turns keys
into choices or queued control operations, and builds the widget that shows the latest
snapshot. The session (`session.serve`) feeds it the store; tests feed it keys and snapshots
and read the text it renders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import attrs
import urwid

from destilation.domain import TaskState
from destilation.errors import DestilationError
from destilation.interfaces import StateStore
from destilation.redaction import redact_text
from destilation_tui import control, views
from destilation_tui.rates import Throughput
from destilation_tui.snapshot import TASK_PAGE, Snapshot, Wanted, read_snapshot
from destilation_tui.text import clip, clock
from destilation_tui.window import Window

Operation = Callable[[StateStore, str], Awaitable[str]]

VIEWS: tuple[tuple[str, Callable[[views.Context], views.Page]], ...] = (
    ("dashboard", views.dashboard),
    ("job", views.job_detail),
    ("tasks", views.tasks_view),
    ("inspect", views.inspector),
    ("events", views.events_view),
    ("settings", views.settings),
)
DASHBOARD, JOB, TASKS, INSPECT, EVENTS, SETTINGS = range(len(VIEWS))
FOLLOW = (DASHBOARD, TASKS, SETTINGS)
"""Views with a selection, which the window follows; the others scroll."""
TASK_FILTERS: tuple[TaskState | None, ...] = (None, *TaskState)
MOVE = {"up": -1, "k": -1, "down": 1, "j": 1, "page up": -10, "page down": 10}

HELP = [
    "Keys",
    "  Tab / Shift-Tab   next / previous view",
    "  arrows or j / k   move the selection (or scroll); PgUp / PgDn move faster",
    "  Enter             open the selected job (dashboard) or task (tasks view)",
    "  i                 inspect the selected task",
    "  p                 pause the selected job (its engine stops within a second)",
    "  r                 resume it (starts `destiler resume JOB` on this machine)",
    "  c                 cancel it, after you confirm with y",
    "  d                 delete it from the store, after you confirm with y",
    "  f                 filter tasks by state, events by job, provider, severity",
    "  [ / ]             previous / next page of tasks",
    "  v                 more or less detail",
    "  ?                 this help; Esc or ? closes it",
    "  q                 quit (a running job goes on)",
]


def footer_keys(view: int) -> str:
    """The keys that apply in `view` (it wraps to a second row on a narrow terminal)."""
    steer = "p pause r resume c cancel d delete"
    by_view = {
        DASHBOARD: f"jk move Enter open {steer} v detail",
        JOB: f"{steer}",
        TASKS: f"jk move Enter/i inspect f state [/] page {steer}",
        INSPECT: "jk scroll v detail",
        EVENTS: "jk scroll f filter v detail",
        SETTINGS: "jk move d delete",
    }
    return f"{by_view[view]}  Tab view ? help q quit"


@attrs.define
class Confirm:
    """A cancel or delete waiting for its `y`."""

    verb: str
    job: str
    operation: Operation


class Screen(urwid.WidgetWrap[urwid.Widget]):
    """The top widget: every key goes to the dashboard, which scrolls and selects by itself."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        super().__init__(dashboard.frame)

    def keypress(self, size: tuple[()] | tuple[int] | tuple[int, int], key: str) -> str | None:
        self.dashboard.key(key)
        return None


class Dashboard:
    """Choices, the latest snapshot and the operations keys queued; `widget` shows them."""

    def __init__(
        self,
        *,
        store_url: str = "",
        data_dir: str = "",
        plugins: Sequence[str] = (),
        job: str | None = None,
        resume: Operation | None = None,
    ) -> None:
        self.store_url = store_url
        self.data_dir = data_dir
        self.plugins = tuple(plugins)
        self.job = job
        self.view = JOB if job else DASHBOARD
        self.job_cursor = 0
        self.task_cursor = 0
        self.task_state: TaskState | None = None
        self.task_offset = 0
        self.inspected: int | None = None
        self.detail = 0
        self.events = views.EventFilter()
        self.scroll = 0
        self.show_help = False
        self.confirm: Confirm | None = None
        self.filter_edit: urwid.Edit | None = None
        self.status = ""
        self.banner: str | None = "connecting to the store…"
        self.snapshot = Snapshot(0.0)
        self.throughput = Throughput()
        self.queue: list[tuple[Operation, str]] = []
        self._resume: Operation = resume or control.Resumer()
        self._wake = anyio.Event()
        self.body = Window()
        self.header = urwid.Text("", wrap="clip")
        self.footer = urwid.Pile([])
        self.frame = urwid.Frame(self.body, header=self.header, footer=self.footer)
        self.widget = Screen(self)
        self.redraw()

    # --- what the session calls -------------------------------------------------------------

    def wanted(self) -> Wanted:
        """What the view on screen needs from the store besides the job list."""
        tasks = self.view in (JOB, TASKS)
        return Wanted(
            job=self.job,
            tasks=tasks,
            task_state=self.task_state if self.view == TASKS else None,
            task_offset=self.task_offset,
            task=self.inspected if self.view == INSPECT else None,
            events=self.view == EVENTS,
            event_job=self.events.job,
        )

    async def read(self, store: StateStore) -> Snapshot:
        """Run the control operations keys queued, then read what the view on screen needs.

        Only this touches the store: whatever it raises (beyond an operation's refusal, which
        becomes the status line) means the store is in trouble, never a bug in drawing.
        """
        queued, self.queue = self.queue, []
        for operation, job in queued:
            try:
                self.status = await operation(store, job)
            except DestilationError as exc:
                self.status = f"error: {redact_text(str(exc))}"
        return await read_snapshot(store, self.wanted())

    async def tick(self, store: StateStore) -> None:
        """One refresh: `read`, then show it."""
        self.apply(await self.read(store))

    def apply(self, snapshot: Snapshot) -> None:
        seen = {j.name for j in self.snapshot.jobs}
        self.snapshot = snapshot
        self.banner = None
        self.throughput.record(snapshot.at, {j.name: j.accepted for j in snapshot.jobs})
        names = [j.name for j in snapshot.jobs]
        if self.job in names:
            self.job_cursor = names.index(self.job)
        elif names and (self.job is None or self.job in seen):
            # Nothing chosen, or the chosen job was deleted: select its neighbour. A job named by
            # --job that does not exist yet stays chosen until it appears.
            self.job_cursor = min(self.job_cursor, len(names) - 1)
            self.job = names[self.job_cursor]
        self.task_cursor = max(0, min(self.task_cursor, len(snapshot.tasks) - 1))
        self.redraw()

    def disconnected(self, error: BaseException) -> None:
        """The store went away (or is not there yet): say so on top and keep the last picture."""
        self.banner = f"store unreachable, reconnecting: {clip(redact_text(str(error) or type(error).__name__), 60)}"
        if self.queue:
            self.queue.clear()
            self.status = "not done: the store is unreachable"
        self.redraw()

    async def wait(self, seconds: float) -> None:
        """Sleep until the next refresh, or until a key queued an operation."""
        with anyio.move_on_after(seconds):
            await self._wake.wait()
        self._wake = anyio.Event()

    # --- keys ------------------------------------------------------------------------------

    def key(self, key: str) -> None:
        before = self.wanted()
        self._key(key)
        if self.wanted() != before:  # the view needs other reads: refresh now, not at the next tick
            self._wake.set()
        self.redraw()

    def _key(self, key: str) -> None:
        if self.confirm is not None:
            self._answer(key)
        elif self.filter_edit is not None:
            self._edit_filter(key)
        elif self.show_help and key in ("esc", "?"):
            self.show_help = False
        elif key == "q":
            raise urwid.ExitMainLoop
        elif key == "?":
            self.show_help = True
        elif key in ("tab", "shift tab"):
            self._switch(1 if key == "tab" else -1)
        elif key in MOVE:
            self._move(MOVE[key])
        elif key in ("enter", "i"):
            self._open(key)
        elif key in ("p", "r", "c", "d"):
            self._steer(key)
        elif key == "f":
            self._filter()
        elif key in ("[", "]"):
            self._page(-1 if key == "[" else 1)
        elif key == "v":
            self.detail = 1 - self.detail

    def _switch(self, step: int) -> None:
        self.view = (self.view + step) % len(VIEWS)
        self.show_help = False
        self.scroll = 0

    def _move(self, step: int) -> None:
        if self.view in (DASHBOARD, SETTINGS) and self.snapshot.jobs:
            self.job_cursor = max(0, min(self.job_cursor + step, len(self.snapshot.jobs) - 1))
            self.job = self.snapshot.jobs[self.job_cursor].name
            self.task_offset = self.task_cursor = 0
            self.inspected = None
        elif self.view == TASKS:
            self.task_cursor = max(0, min(self.task_cursor + step, len(self.snapshot.tasks) - 1))
        else:
            self.scroll += step

    def _open(self, key: str) -> None:
        if self.view == DASHBOARD and key == "enter" and self.job is not None:
            self.view = JOB
        elif self.view == TASKS and self.snapshot.tasks:
            self.inspected = self.snapshot.tasks[self.task_cursor].index
            self.view = INSPECT
        elif key == "i" and self.inspected is not None:
            self.view = INSPECT
        else:
            self.status = "nothing to open here: pick a job on the dashboard or a task in the tasks view"
            return
        self.scroll = 0

    def _steer(self, key: str) -> None:
        job = self.job
        if job is None:
            self.status = "no job selected"
        elif self.banner is not None:
            self.status = "not done: the store is unreachable"
        elif key == "p":
            self._queue(control.pause, job)
        elif key == "r":
            self._queue(self._resume, job)
        elif key == "c":
            self.confirm = Confirm("Cancel", job, control.cancel)
        else:
            self.confirm = Confirm("Delete", job, control.delete)

    def _queue(self, operation: Operation, job: str) -> None:
        self.queue.append((operation, job))
        self.status = "…"
        self._wake.set()

    def _answer(self, key: str) -> None:
        assert self.confirm is not None
        confirm, self.confirm = self.confirm, None
        if key in ("y", "Y"):
            self._queue(confirm.operation, confirm.job)
        else:
            self.status = f"{confirm.verb.lower()} {confirm.job}: not done"

    def _filter(self) -> None:
        if self.view == TASKS:
            at = TASK_FILTERS.index(self.task_state)
            self.task_state = TASK_FILTERS[(at + 1) % len(TASK_FILTERS)]
            self.task_offset = self.task_cursor = 0
        elif self.view == EVENTS:
            self.filter_edit = urwid.Edit("filter (job=NAME provider=NAME severity=LEVEL): ", self._filter_text())
        else:
            self.status = "f filters the tasks and events views"

    def _filter_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in attrs.asdict(self.events).items() if v is not None)

    def _edit_filter(self, key: str) -> None:
        assert self.filter_edit is not None
        if key == "esc":
            self.filter_edit = None
        elif key == "enter":
            try:
                self.events = views.EventFilter.parse(self.filter_edit.edit_text)
            except ValueError as exc:
                self.status = f"filter not changed: {exc}"
            self.filter_edit = None
        else:
            self.filter_edit.keypress((80,), key)

    def _page(self, step: int) -> None:
        if self.view != TASKS:
            self.status = "[ and ] page through the tasks view"
            return
        if step > 0 and len(self.snapshot.tasks) < TASK_PAGE:
            self.status = "this is the last page"
            return
        self.task_offset = max(0, self.task_offset + step * TASK_PAGE)
        self.task_cursor = 0

    # --- drawing ---------------------------------------------------------------------------

    def context(self) -> views.Context:
        return views.Context(
            snapshot=self.snapshot,
            throughput=self.throughput,
            job=self.job,
            job_cursor=self.job_cursor,
            task_cursor=self.task_cursor,
            task_state=self.task_state,
            task_offset=self.task_offset,
            detail=self.detail,
            events=self.events,
            store_url=self.store_url,
            data_dir=self.data_dir,
            plugins=self.plugins,
        )

    def redraw(self) -> None:
        tabs: list[Any] = []
        for i, (name, _) in enumerate(VIEWS):
            tabs.append(("tab", f"[{name}]") if i == self.view else f" {name} ")
        at = clock(self.snapshot.at)
        self.header.set_text(["destiler tui ", *tabs, f" {at}"])
        if self.show_help:
            page = views.Page([views.line(text) for text in HELP])
        else:
            page = VIEWS[self.view][1](self.context())
        lines = list(page.lines)
        if self.banner is not None:
            lines.insert(0, views.line(self.banner, "banner"))
        pinned = 1 + (self.banner is not None)  # the banner and the view's heading stay in sight
        if self.view in FOLLOW and not self.show_help:
            self.body.show(lines, focus=page.focus + (self.banner is not None), pinned=pinned)
        else:
            most = max(0, len(lines) - pinned - self.body.rows)
            if self.view == EVENTS and not self.show_help:  # the newest events at the bottom, scrolling up
                self.scroll = max(-most, min(self.scroll, 0))
                self.body.show(lines, top=most + self.scroll, pinned=pinned)
            else:
                self.scroll = max(0, min(self.scroll, most))
                self.body.show(lines, top=self.scroll, pinned=pinned)
        footer: list[urwid.Widget] = []
        if self.confirm is not None:
            question = f"{self.confirm.verb} job {self.confirm.job!r}? y confirms, any other key keeps it"
            footer.append(urwid.AttrMap(urwid.Text(question), "banner"))
        elif self.filter_edit is not None:
            footer.append(urwid.AttrMap(self.filter_edit, "banner"))
        elif self.status:
            footer.append(urwid.Text(clip(self.status, 200)))
        footer.append(urwid.AttrMap(urwid.Text(footer_keys(self.view)), "footer"))
        self.footer.contents[:] = [(w, self.footer.options()) for w in footer]
