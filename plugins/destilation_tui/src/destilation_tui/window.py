"""A box widget that shows a window of one-row lines: the dashboard's scrolling, made predictable.

urwid's ListBox keeps its own idea of the offset, which a body rebuilt every refresh would lose;
this widget picks the visible rows from the lines and a position alone, at render time, so the
selection stays in sight, headings stay on top while they fit, and scrolling stops at the ends.
"""

from __future__ import annotations

from typing import Any

import urwid


class Window(urwid.Widget):
    _sizing = frozenset([urwid.BOX])

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[urwid.Widget] = []
        self._head: list[urwid.Widget] = []
        self.focus_line = 0
        """Follow mode: the line that must be visible (the selection)."""
        self.top: int | None = None
        """Scroll mode: the first visible line; negative counts from the end (-rows shows the tail)."""
        self.pinned = 0
        """Leading lines (a heading, a banner) that stay on top however far the rest scrolls."""
        self.rows = 20
        """Rows the scrolling part had at the last render, for clamping scroll positions between renders."""

    def show(self, lines: list[urwid.Widget], *, focus: int = 0, top: int | None = None, pinned: int = 0) -> None:
        self.pinned = pinned
        self.lines, self.focus_line, self.top = lines[pinned:], max(0, focus - pinned), top
        self._head = lines[:pinned]
        self._invalidate()

    def first_row(self, rows: int) -> int:
        most = max(0, len(self.lines) - rows)
        if self.top is None:
            return min(most, max(0, self.focus_line - rows + 1))
        top = self.top if self.top >= 0 else len(self.lines) + self.top
        return max(0, min(top, most))

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:  # type: ignore[override]
        cols, rows = size
        head = self._head[:rows]
        self.rows = rows - len(head)
        first = self.first_row(self.rows)
        shown = head + self.lines[first : first + self.rows]
        pile: Any = urwid.Pile(shown) if shown else urwid.Text("")
        return urwid.Filler(pile, valign="top").render((cols, rows), focus)
