"""The job-control rules: each decides on a progress snapshot alone, and the first to object wins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from destilation.config import BudgetSpec, JobSpec
from destilation.control import (
    CONTINUE,
    Budget,
    JobControl,
    Pause,
    Progress,
    RejectionRate,
    Spend,
    Stop,
    TaskLimit,
    control_for,
)


def progress(**changes: object) -> Progress:
    values: dict[str, object] = {
        "job": "j",
        "target": 10,
        "accepted": 2,
        "rejected": 3,
        "planned": 5,
        "open_tasks": 0,
        "in_flight": 0,
    }
    values.update(changes)
    return Progress(**values)  # type: ignore[arg-type]


def test_the_task_limit_stops_only_when_nothing_is_left_to_work_or_plan() -> None:
    rule = TaskLimit(5)
    assert rule.decide(progress(open_tasks=1)) is CONTINUE
    assert rule.decide(progress(in_flight=1)) is CONTINUE
    assert rule.decide(progress(planned=4)) is CONTINUE
    assert rule.decide(progress()) == Stop(
        "only 2 of 10 samples accepted: 3 tasks rejected and the task limit (5) is reached; "
        "see `destiler tasks j --state rejected`"
    )
    stop = rule.decide(progress(last_rejection="not JSON"))
    assert isinstance(stop, Stop) and "reached (the last: not JSON);" in stop.reason


def test_the_rejection_rate_waits_for_a_full_window_then_stops_above_the_rate() -> None:
    rule = RejectionRate(window=4, rate=0.5)
    assert rule.decide(progress(recent=(False, False, False))) is CONTINUE, "not before 4 tasks finished"
    assert rule.decide(progress(recent=(False, False, True, True))) is CONTINUE, "2 of 4 is not above half"
    # Only the last window counts: the early rejections are forgotten.
    assert rule.decide(progress(recent=(False, False, False, True, True, False))) is CONTINUE
    stop = rule.decide(progress(recent=(True, True, False, False, False, True, False), last_rejection="too short"))
    assert stop == Stop(
        "stopped: 3 of the last 4 tasks were rejected (the last: too short); see `destiler tasks j --state rejected`"
    )
    assert rule.decide(progress(recent=(False,) * 4)) == Stop(
        "stopped: 4 of the last 4 tasks were rejected; see `destiler tasks j --state rejected`"
    )


@given(st.lists(st.booleans(), max_size=30), st.integers(1, 10), st.floats(0, 1))
def test_the_rejection_rate_stops_exactly_when_the_window_says_so(recent: list[bool], window: int, rate: float) -> None:
    decision = RejectionRate(window, rate).decide(progress(recent=tuple(recent)))
    last = recent[-window:]
    expected = len(recent) >= window and last.count(False) > rate * window
    assert isinstance(decision, Stop) is expected


def test_budgets_pause_at_their_cap_and_name_it() -> None:
    assert not Budget().capped
    assert Budget().decide(progress(spend=Spend(10**9, 10**9, 1e9))) is CONTINUE
    budget = Budget(max_requests=10, max_tokens=1000, max_cost_usd=0.05)
    assert budget.capped
    assert budget.decide(progress(spend=Spend(9, 999, 0.0499))) is CONTINUE
    assert budget.decide(progress(spend=Spend(10, 0, 0))) == Pause("budget reached: max_requests 10 (sent 10)")
    assert budget.decide(progress(spend=Spend(0, 1200, 0))) == Pause("budget reached: max_tokens 1000 (used 1200)")
    assert budget.decide(progress(spend=Spend(0, 0, 0.0512))) == Pause(
        "budget reached: max_cost_usd 0.05 (spent 0.0512)"
    )
    assert Spend(1, 2, 0.5) + Spend(3, 4, 0.25) == Spend(4, 6, 0.75)


def test_the_first_rule_that_objects_decides() -> None:
    assert JobControl().decide(progress()) is CONTINUE
    spec = JobSpec(name="j", stop_window=2, budget=BudgetSpec(max_requests=1))
    control = control_for(spec, task_limit=5)
    assert [type(rule) for rule in control.rules] == [Budget, RejectionRate, TaskLimit]
    over = progress(recent=(False, False), spend=Spend(requests=1))
    assert isinstance(control.decide(over), Pause), "a budget pauses before the rejection rate stops"
    assert isinstance(control.decide(progress(recent=(False, False))), Stop)
    assert control.decide(progress(open_tasks=3, recent=(True, False))) is CONTINUE
