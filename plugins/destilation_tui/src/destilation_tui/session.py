"""The dashboard on a terminal: urwid's asyncio loop, a refresh task, and reconnecting.

urwid owns the terminal and the asyncio loop; one task beside it opens the store, refreshes at
least once a second (sooner when a key queued an operation) and, when the store fails or is not
there yet, shows a banner and tries again. Keys are handled between refreshes, so a slow store
never blocks them. Leaving, however it happens, restores the terminal (urwid's screen does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import urwid

from destilation.interfaces import StateStore
from destilation_tui.dashboard import Dashboard

REFRESH_S = 0.5
RECONNECT_S = 1.0

Opener = Callable[[AsyncExitStack], Awaitable[StateStore]]

# (name, foreground, background, mono): with NO_COLOR the mono column is all that is used.
PALETTE = [
    ("title", "bold", "default", "bold"),
    ("dim", "dark gray", "default", "default"),
    ("selected", "black", "light gray", "standout"),
    ("tab", "black", "light gray", "standout"),
    ("banner", "white", "dark red", "standout"),
    ("bad", "light red", "default", "bold"),
    ("footer", "black", "dark cyan", "standout"),
]


async def serve(
    dashboard: Dashboard,
    open_store: Opener,
    redraw: Callable[[], Any],
    *,
    refresh_s: float = REFRESH_S,
    reconnect_s: float = RECONNECT_S,
) -> None:
    """Refresh `dashboard` from the store for as long as the task lives, reconnecting on failure.

    Only opening the store and `Dashboard.read` are guarded: a failure there is the store's, shown
    in the banner. An error while drawing is a bug and ends the task (and, in `run`, the dashboard).
    """
    stack: AsyncExitStack | None = None
    try:
        while True:
            try:
                if stack is None:
                    stack = AsyncExitStack()
                    store = await open_store(stack)
                snapshot = await dashboard.read(store)
            except Exception as exc:  # any failure of the store: say so, keep the keys alive, retry
                if stack is not None:
                    await _close(stack)
                    stack = None
                dashboard.disconnected(exc)
                redraw()
                await anyio.sleep(reconnect_s)
                continue
            dashboard.apply(snapshot)
            redraw()
            await dashboard.wait(refresh_s)
    finally:
        if stack is not None:
            await _close(stack)


async def _close(stack: AsyncExitStack) -> None:
    """Close a store that failed; its own closing may fail too, which changes nothing here."""
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await stack.aclose()


def run(dashboard: Dashboard, open_store: Opener, *, screen: urwid.display.raw.Screen, no_color: bool) -> None:
    """Run the dashboard until `q`; the terminal is restored on every way out."""
    loop = asyncio.new_event_loop()
    if no_color:
        screen.set_terminal_properties(colors=1)
    main = urwid.MainLoop(
        dashboard.widget, PALETTE, screen=screen, event_loop=urwid.AsyncioEventLoop(loop=loop), handle_mouse=False
    )
    task = loop.create_task(serve(dashboard, open_store, main.draw_screen))
    # A refresh task that died of a bug stops the dashboard at once: urwid re-raises what a
    # callback of its loop raised, after giving the terminal back.
    task.add_done_callback(lambda done: done.cancelled() or main.event_loop.alarm(0, done.result))
    try:
        main.run()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)  # closes the store
        loop.close()
