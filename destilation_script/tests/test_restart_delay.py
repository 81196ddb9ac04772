"""The restart backoff: doubling from its base with each failure in a row, never past its cap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from destilation_script.provider import restart_delay


def test_the_delay_doubles_then_stays_at_the_cap() -> None:
    assert [restart_delay(n, 0.5, 30.0) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@given(st.integers(1, 2000), st.floats(0.001, 10), st.floats(0.001, 100))
def test_the_delay_grows_with_failures_and_is_bounded(failures: int, base: float, cap: float) -> None:
    delay = restart_delay(failures, base, cap)
    assert 0 < delay <= cap
    assert restart_delay(failures + 1, base, cap) >= delay
