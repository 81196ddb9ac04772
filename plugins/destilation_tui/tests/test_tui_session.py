"""The session: refreshes from the store, shows a banner and reconnects, and gives the terminal back."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import termios
import threading
from contextlib import AsyncExitStack

import anyio
import pytest
import urwid

from destilation.interfaces import StateStore, StoreMissing
from destilation.testing import MemoryStore
from destilation_tui import session
from destilation_tui.dashboard import Dashboard
from destilation_tui.snapshot import Snapshot

from .conftest import fill


class Flaky(MemoryStore):
    """A store whose reads fail once `broken` is set, as a database that went away."""

    broken = False

    async def list_jobs(self):  # type: ignore[no-untyped-def]
        if self.broken:
            raise OSError("connection refused")
        return await super().list_jobs()


@pytest.mark.anyio
async def test_serve_waits_for_a_missing_store_then_refreshes_and_reconnects() -> None:
    store = await fill(Flaky())
    board = Dashboard()
    seen: list[str | None] = []
    opened = 0

    async def open_store(stack: AsyncExitStack) -> StateStore:
        nonlocal opened
        opened += 1
        if opened == 1:
            raise StoreMissing("no database file at data/destilation.db")
        stack.push_async_callback(close_badly)
        return store

    async def close_badly() -> None:
        raise OSError("closing a broken connection fails too")

    def redraw() -> None:
        seen.append(board.banner)
        if len(seen) == 3:  # missing, then refreshed: now the store goes away
            store.broken = True
        if len(seen) == 5:  # broken, then it comes back
            store.broken = False

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: session.serve(board, open_store, redraw, refresh_s=0.01, reconnect_s=0.01))
            while len(seen) < 7:
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert seen[0] == "store unreachable, reconnecting: no database file at data/destilation.db"
    assert seen[1] is None and seen[2] is None
    assert seen[3] == "store unreachable, reconnecting: connection refused"
    assert None in seen[4:] and opened >= 3
    assert [j.name for j in board.snapshot.jobs] == ["qa", "old"]


class DrawingBug(Dashboard):
    def apply(self, snapshot: Snapshot) -> None:
        raise RuntimeError("a bug in drawing")


@pytest.mark.anyio
async def test_a_bug_in_drawing_is_no_store_failure() -> None:
    store = await fill(MemoryStore())

    async def open_store(stack: AsyncExitStack) -> StateStore:
        return store

    board = DrawingBug()
    with anyio.fail_after(10), pytest.raises(RuntimeError, match="a bug in drawing"):
        await session.serve(board, open_store, lambda: None)
    assert board.banner == "connecting to the store…"  # never taken for the store going away


class Terminal:
    """A pseudo-terminal of 80x24 for urwid's own screen, with what it was set to beforehand."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.before = termios.tcgetattr(self.slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.input = open(self.slave, "rb", buffering=0, closefd=False)  # noqa: SIM115 - closed in close()
        self.out = open(self.slave, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - closed in close()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def screen(self) -> urwid.display.raw.Screen:
        return urwid.display.raw.Screen(input=self.input, output=self.out)

    def restored(self) -> bool:
        return termios.tcgetattr(self.slave) == self.before

    def close(self) -> None:
        self.input.close()
        self.out.close()
        os.close(self.slave)  # the reader then gets what is left and stops
        self._reader.join(timeout=10)
        os.close(self.master)


class Closing(MemoryStore):
    closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_run_draws_quits_on_q_and_closes_the_store() -> None:
    terminal = Terminal()
    store = Closing()
    board = Dashboard()

    async def open_store(stack: AsyncExitStack) -> StateStore:
        await fill(store)
        stack.push_async_callback(store.aclose)
        terminal.type(b"?q")  # keys arrive once the store is open
        return store

    try:
        session.run(board, open_store, screen=terminal.screen(), no_color=True)
        assert terminal.restored()
    finally:
        terminal.close()
    assert store.closed and board.show_help
    assert b"destiler tui" in terminal.output
    # NO_COLOR: the default colours only, with bold and reverse video where colour would be.
    styles = {code for sgr in re.findall(rb"\x1b\[([0-9;]*)m", bytes(terminal.output)) for code in sgr.split(b";")}
    assert styles <= {b"", b"0", b"1", b"7", b"39", b"49"} and b"7" in styles


class Broken(Dashboard):
    def key(self, key: str) -> None:
        raise RuntimeError("a bug in a key handler")


def test_a_bug_in_the_refresh_task_stops_the_dashboard_and_gives_the_terminal_back() -> None:
    terminal = Terminal()

    async def open_store(stack: AsyncExitStack) -> StateStore:
        return await fill(MemoryStore())

    try:
        with pytest.raises(RuntimeError, match="a bug in drawing"):
            session.run(DrawingBug(), open_store, screen=terminal.screen(), no_color=False)
        assert terminal.restored()
    finally:
        terminal.close()


def test_an_error_still_gives_the_terminal_back() -> None:
    terminal = Terminal()

    async def open_store(stack: AsyncExitStack) -> StateStore:
        terminal.type(b"x")
        return await fill(MemoryStore())

    try:
        with pytest.raises(RuntimeError, match="a bug in a key handler"):
            session.run(Broken(), open_store, screen=terminal.screen(), no_color=False)
        assert terminal.restored()
    finally:
        terminal.close()
