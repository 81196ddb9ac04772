"""`retry_after_seconds` reads Retry-After (seconds or HTTP date) and rate-limit reset times."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation.policy import retry_after_seconds

NOW = 1_750_000_000.0


@given(st.integers(0, 10**9 - 1))
def test_delta_seconds_are_taken_as_they_are(seconds: int) -> None:
    assert retry_after_seconds(str(seconds), NOW) == seconds
    assert retry_after_seconds(f"  {seconds} ", NOW) == seconds


@given(st.integers(-86_400, 10 * 86_400))
def test_an_http_date_gives_the_seconds_until_then(offset: int) -> None:
    header = email.utils.formatdate(NOW + offset, usegmt=True)
    assert retry_after_seconds(header, NOW) == max(0, offset)


@given(st.integers(0, 10**6))
def test_epoch_milliseconds_and_seconds_give_the_seconds_until_then(offset_ms: int) -> None:
    assert retry_after_seconds(str(int(NOW * 1000) + offset_ms), NOW) == pytest.approx(offset_ms / 1000, abs=1e-6)
    assert retry_after_seconds(NOW + offset_ms, NOW) == pytest.approx(offset_ms)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_text_gives_a_wait_or_none_never_an_error(text: str) -> None:
    wait = retry_after_seconds(text, NOW)
    assert wait is None or wait >= 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("-5", 0.0),
        ("1.5", 1.5),
        (2, 2.0),
        (str(int(NOW * 1000) - 5000), 0.0),  # a reset already past
        ("Sun, 15 Jun 2025 15:06:40 -0000", 0.0),  # a date without a zone is GMT
        ("Sun, 15 Jun 2025 15:06:50 -0000", 10.0),
    ],
)
def test_edge_values(value: str | float | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


def test_now_defaults_to_the_current_time() -> None:
    wait = retry_after_seconds(email.utils.formatdate(usegmt=True))
    assert wait is not None and 0 <= wait <= 1
