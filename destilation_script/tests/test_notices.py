"""Events about the child: redacted always, rate-limited per kind, dropped lines counted."""

from __future__ import annotations

from destilation import Event, Secret
from destilation_script.notices import Notices


def test_lines_past_the_budget_of_a_minute_are_counted_in_the_next_event() -> None:
    now = [0.0]
    events: list[Event] = []
    notices = Notices("p", events.append, per_minute=2, clock=lambda: now[0])
    for text in ("a", "b", "c", "d"):
        notices.line("script_stderr", text)
    notices.line("script_garbage", "other kinds have their own budget")
    assert [e.message for e in events] == ["a", "b", "other kinds have their own budget"]
    now[0] = 60.0
    notices.line("script_stderr", "e")
    assert events[-1].message == "e" and events[-1].data == {"dropped": 2}
    assert all(e.job == "" and e.provider == "p" and e.at > 0 for e in events)


def test_every_text_is_redacted_and_long_lines_are_cut() -> None:
    events: list[Event] = []
    secret = Secret("hunter2-secret-value")
    notices = Notices("p", events.append, per_minute=10)
    notices.say("script_crashed", f"crashed with {secret.reveal()}", pid=3)
    notices.line("script_stderr", "x" * 600)
    assert events[0].message == "crashed with ***" and events[0].severity == "warning" and events[0].data == {"pid": 3}
    assert len(events[1].message) == 500 and events[1].data == {"truncated": True} and events[1].severity == "info"
