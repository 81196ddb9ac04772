"""Progress for people: the live terminal line, the plain lines, and choosing between them."""

from __future__ import annotations

import io
import re
import sys
from typing import cast

import anyio
import pytest
from rich.console import Console

from destilation.domain import Event
from destilation.events import EventBus
from destilation.interfaces import StateStore
from destilation.progress import (
    ERASE_LINE,
    Figures,
    LiveProgress,
    PlainProgress,
    duration,
    error_line,
    live_line,
    make_progress,
    money,
    plain_line,
)

BUSY = {
    "accepted": 420,
    "target": 1000,
    "rejected": 3,
    "rate": 85.24,
    "provider_errors": 12,
    "invalid": 40,
    "cost": 0.0123,
}


def progress(job: str = "physics-qa", **data: object) -> Event:
    return Event("progress", job, data=data)  # type: ignore[arg-type]


def test_figures_read_a_progress_event_and_tolerate_missing_or_odd_values() -> None:
    f = Figures.of(progress(**BUSY))
    assert f == Figures("physics-qa", 420, 1000, 3, 85.24, 12, 40, 0.0123)
    assert f.eta == "7s"
    bare = Figures.of(progress(accepted=True, target="x", rate=None))
    assert bare == Figures("physics-qa", 0, 0)
    assert bare.eta == "-"
    assert Figures("j", 10, 10, rate=5.0).eta == "-"  # done: nothing left to wait for


def test_a_store_that_keeps_no_totals_gives_progress_no_error_or_cost_figures() -> None:
    # The port's default: the runner then publishes progress without these keys.
    assert anyio.run(StateStore.attempt_totals, cast(StateStore, None), "j") is None
    figures = Figures.of(progress(accepted=1, target=2))
    assert (figures.provider_errors, figures.invalid, figures.cost) == (0, 0, 0.0)
    assert plain_line(figures) == "physics-qa: 1/2 accepted, 0 rejected, 0.0/s, eta -"


def test_durations_and_money() -> None:
    assert [duration(s) for s in (0.4, 7, 59.6, 185, 3599, 7800)] == ["0s", "7s", "1m00s", "3m05s", "59m59s", "2h10m"]
    assert (money(0.0123), money(12.5)) == ("$0.0123", "$12.50")


def test_the_plain_line_says_the_figures_in_words() -> None:
    assert plain_line(Figures.of(progress(accepted=420, target=1000, rejected=3, rate=85.2))) == (
        "physics-qa: 420/1000 accepted, 3 rejected, 85.2/s, eta 7s"
    )
    assert plain_line(Figures.of(progress(**BUSY))) == (
        "physics-qa: 420/1000 accepted, 3 rejected, 85.2/s, eta 7s, 12 provider errors, "
        "40 answers failed validation, $0.0123"
    )
    one = Figures("j", 1, 2, provider_errors=1, invalid=1)
    assert plain_line(one) == "j: 1/2 accepted, 0 rejected, 0.0/s, eta -, 1 provider error, 1 answer failed validation"


def test_an_error_line_names_the_provider_and_the_task() -> None:
    event = Event("provider_error", "j", "ProviderError: HTTP 503", provider="teacher", task_index=17)
    assert error_line(event) == "j: provider teacher, task 17: ProviderError: HTTP 503"
    assert error_line(Event("provider_error", "j", "boom")) == "j: provider ?: boom"


@pytest.mark.parametrize("width", [200, 100, 80, 79, 60, 40, 30, 20, 15, 8, 3])
def test_the_live_line_fits_any_width_on_one_line(width: int) -> None:
    line = live_line(Figures.of(progress(**BUSY)), width)
    assert line.cell_len <= width
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=width + 1, color_system=None).print(line)
    assert out.getvalue().count("\n") == 1  # printed, it is one line: nothing wrapped
    text = line.plain
    if width >= 20:
        assert text.startswith("physics-qa ") and "420/1000" in text
    if width >= 80:  # an 80-column terminal shows every figure that matters
        for figure in ("3 rejected", "12 provider errors", "40 invalid"):
            assert figure in text
    if width >= 200:
        for figure in ("━", "42%", "85.2/s", "eta 7s", "$0.0123"):
            assert figure in text


def test_the_live_line_keeps_a_bar_when_there_is_room() -> None:
    quiet = Figures("quickstart", 100, 200, rate=50.0)
    text = live_line(quiet, 79).plain
    assert re.fullmatch(r"quickstart ━{8,30} 100/200 · 50% · 0 rejected · 50\.0/s · eta 2s", text), text
    assert re.fullmatch(
        r"quickstart #{4,15}-{4,15} 100/200 \| 50% \| 0 rejected \| 50\.0/s \| eta 2s",
        live_line(quiet, 79, ascii_only=True).plain,
    )
    assert live_line(Figures("j", 0, 0), 79).plain.startswith("j ━")  # nothing to do is all done


def _live(width: int, verbose: bool = False) -> tuple[LiveProgress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, color_system=None)
    return LiveProgress(verbose, console, auto_refresh=False), out


@pytest.mark.parametrize("width", [80, 40])
def test_live_progress_redraws_one_line_and_removes_it_at_the_end(width: int) -> None:
    bar, out = _live(width)
    bar.refresh()  # nothing shown before the first progress event
    assert out.getvalue() == ""
    for accepted in (10, 420, 999):
        bar(progress(**{**BUSY, "accepted": accepted}))
        bar.refresh()
    drawn = out.getvalue()
    assert "\n" not in drawn  # every redraw overwrote the same line
    frames = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", f) for f in drawn.split("\r")]
    shown = [f for f in frames if f.strip()]
    assert shown and all(len(f) <= width - 1 for f in shown)
    assert "999/1000" in shown[-1]
    bar(Event("job_done", "physics-qa"))
    ended = out.getvalue()[len(drawn) :]
    assert "\x1b[2K" in ended  # the line is erased: the run's result line stands alone
    bar(progress(**BUSY))  # a late event does not start it again
    bar.close()
    assert out.getvalue().endswith(ended)


def test_verbose_live_progress_prints_each_provider_error_above_the_line() -> None:
    bar, out = _live(80, verbose=True)
    bar(progress(**BUSY))
    bar(Event("provider_error", "physics-qa", "ProviderError: HTTP 503 " + "x" * 200, provider="teacher"))
    printed = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "physics-qa: provider teacher: ProviderError: HTTP 503 xxx" in printed
    assert all(len(line) <= 80 for line in printed.replace("\r", "\n").splitlines())
    bar.close()
    quiet, out = _live(80)
    quiet(progress(**BUSY))
    quiet(Event("provider_error", "physics-qa", "HTTP 503", provider="teacher"))
    quiet.close()
    assert "HTTP 503" not in out.getvalue()


def test_a_worker_process_copy_erases_the_line_before_its_error_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    copy = LiveProgress(verbose=True)  # as forked: it never saw a progress event
    copy(Event("provider_error", "j", "ProviderError: a long message that does not fit", provider="t", task_index=3))
    copy(Event("provider_error", "j", "short", provider="t"))
    assert capsys.readouterr().err == f"{ERASE_LINE}j: provider t, task 3: Provi…\n{ERASE_LINE}j: provider t: short\n"
    copy.close()


def test_live_progress_opens_its_own_console_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    bar = LiveProgress(auto_refresh=False)
    bar(progress(**BUSY))
    assert bar._console is not None and bar._console.stderr
    bar.close()


def test_plain_progress_writes_a_line_from_its_timer_and_errors_when_verbose() -> None:
    out = io.StringIO()
    plain = PlainProgress(verbose=True, stream=out, interval=60)
    plain(Event("provider_error", "physics-qa", "HTTP 503", provider="teacher", task_index=4))
    plain(progress(**BUSY))
    plain(Event("job_done", "physics-qa"))  # waits for the timer thread: its first line is written
    assert out.getvalue().splitlines() == [
        "physics-qa: provider teacher, task 4: HTTP 503",
        plain_line(Figures.of(progress(**BUSY))),
    ]
    plain(progress(**BUSY))  # over: no new timer
    plain.close()
    assert len(out.getvalue().splitlines()) == 2
    silent = PlainProgress(stream=out)
    silent(Event("provider_error", "j", "HTTP 503"))
    silent.close()
    assert len(out.getvalue().splitlines()) == 2


def test_a_hold_is_said_at_any_verbosity_and_the_policies_notices_with_v_only() -> None:
    held = Event("job_held", "qa", "paused: every provider is unavailable: a: circuit open; probing the providers")
    circuit = Event("circuit_open", "qa", "a: circuit open after 5 failures in a row", provider="a")
    for verbose in (False, True):
        out = io.StringIO()
        plain = PlainProgress(verbose=verbose, stream=out, interval=60)
        plain(held)
        plain(circuit)
        plain(Event("job_resumed", "qa", "a provider answers again: work goes on"))
        plain.close()
        said = [
            "qa: paused: every provider is unavailable: a: circuit open; probing the providers",
            *(["qa: provider a: circuit open after 5 failures in a row"] if verbose else []),
            "qa: a provider answers again: work goes on",
        ]
        assert out.getvalue().splitlines() == said
    console = Console(file=io.StringIO(), width=100, force_terminal=True)
    live = LiveProgress(False, console, auto_refresh=False)
    live(progress(**BUSY))
    live(held)
    live(circuit)
    live.close()
    shown = cast(io.StringIO, console.file).getvalue()
    assert "probing the providers" in shown and "circuit open after" not in shown


def test_plain_progress_repeats_every_interval_until_closed() -> None:
    out = io.StringIO()

    class Counting(io.StringIO):
        def write(self, s: str) -> int:
            n = super().write(s)
            if self.getvalue().count("\n") >= 3:
                plain._stop.set()
            return n

    stream = Counting()
    plain = PlainProgress(stream=stream, interval=0.0)
    plain(progress(**BUSY))
    assert plain._thread is not None
    plain._thread.join(timeout=30)
    assert stream.getvalue().splitlines() == [plain_line(Figures.of(progress(**BUSY)))] * 3
    plain.close()
    assert out.getvalue() == ""


def test_make_progress_follows_the_terminal_and_the_verbosity(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert make_progress(-1) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    plain = make_progress(0)
    assert isinstance(plain, PlainProgress) and not plain.verbose
    monkeypatch.setattr(sys, "stderr", Tty())
    live = make_progress(1)
    assert isinstance(live, LiveProgress) and live.verbose


def test_the_bus_closes_its_subscribers_and_reports_one_that_fails(capsys: pytest.CaptureFixture[str]) -> None:
    closed: list[str] = []

    class Closing:
        def __call__(self, event: Event) -> None: ...

        def close(self) -> None:
            closed.append("ok")

    class Broken(Closing):
        def close(self) -> None:
            raise RuntimeError("stuck")

    bus = EventBus()
    bus.subscribe("plain", lambda event: None)
    bus.subscribe("broken", Broken())
    bus.subscribe("closing", Closing())
    bus.close()
    assert closed == ["ok"]
    assert "warning: event subscriber 'broken' failed to close: stuck" in capsys.readouterr().err
