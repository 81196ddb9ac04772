"""The sliding-window log: never more than its limit in any window, and no longer waits than needed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from destilation.policy.window import RateWindow

# A run: (seconds to move the clock, units asked for) pairs; the clock only moves forward.
steps = st.lists(
    st.tuples(st.sampled_from([0.0, 0.001, 0.5, 1.0, 7.25, 30.0, 59.999, 60.0, 61.0]), st.integers(1, 12)),
    max_size=120,
)


def admitted_runs(limit: int, period: float, run: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """Play `run` against a window, taking each spend as soon as the window says it fits."""
    window = RateWindow(limit, period)
    now, admitted = 0.0, []
    for advance, amount in run:
        now += advance
        wait = window.wait(now, amount)
        if wait > 0:
            earlier = now + wait / 2
            if earlier < now + wait:  # (a wait of a few ulps has no "earlier")
                assert window.wait(earlier, amount) > 0  # it does not fit earlier
            now += wait
            residual = window.wait(now, amount)  # `now + wait` may round a few ulps short of the edge
            assert residual < 1e-9
            now += residual
            assert window.wait(now, amount) == 0  # and fits once the wait is over
        window.add(now, amount)
        admitted.append((now, amount))
    return admitted


@settings(max_examples=300, deadline=None)
@given(limit=st.integers(1, 30), period=st.sampled_from([1.0, 60.0, 61.0]), run=steps)
def test_no_window_of_the_period_holds_more_than_the_limit(
    limit: int, period: float, run: list[tuple[float, int]]
) -> None:
    admitted = admitted_runs(limit, period, run)
    for start, _ in admitted:  # the fullest window [t, t + period) starts at an admitted spend
        inside = [amount for at, amount in admitted if start <= at < start + period]
        assert sum(inside) <= limit or len(inside) == 1  # one oversized spend goes alone


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 20), gaps=st.lists(st.sampled_from([0.0, 0.25, 1.0, 5.0]), max_size=80))
def test_single_requests_wait_only_while_the_window_is_full(limit: int, gaps: list[float]) -> None:
    window, now = RateWindow(limit, 60.0), 0.0
    for gap in gaps:
        now += gap
        wait = window.wait(now)
        assert (wait > 0) == (window.spent(now) >= limit)
        now += wait
        window.add(now)
        assert window.spent(now) <= limit


def test_a_spend_leaves_the_window_exactly_one_period_later() -> None:
    window = RateWindow(2, 60.0)
    window.add(0.0)
    window.add(10.0)
    assert window.wait(30.0) == 30.0  # the first leaves at 60
    assert window.wait(60.0) == 0.0
    assert window.spent(60.0) == 1


def test_a_token_estimate_is_corrected_while_it_counts_and_forgotten_after() -> None:
    window = RateWindow(1000, 60.0)
    early = window.add(0.0, 800)
    assert window.wait(1.0, 300) == 59.0
    window.correct(early, 100)  # the answer was shorter than guessed
    assert window.spent(1.0) == 100
    assert window.wait(1.0, 300) == 0.0
    assert window.spent(60.0) == 0
    window.correct(early, 900)  # too late: it left the window already
    assert window.spent(60.0) == 0


def test_several_old_spends_must_leave_before_a_big_one_fits() -> None:
    window = RateWindow(10, 60.0)
    for at in (0.0, 1.0, 2.0):
        window.add(at, 3)
    assert window.wait(5.0, 6) == 56.0  # 9 spent: the first two (6) must go, at 61
    assert window.wait(5.0, 50) == 57.0  # larger than the limit: waits for an empty window


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        RateWindow(0)
