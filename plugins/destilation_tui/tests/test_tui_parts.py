"""The dashboard's small parts: bars and numbers, throughput sampling, health sums, event filters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation.domain import Circuit, Event, ProviderHealth
from destilation_tui.health import provider_lines
from destilation_tui.rates import BARS, HISTORY_S, Throughput, sparkline
from destilation_tui.text import bar, clip, clock, per_second, percent, seconds
from destilation_tui.views import EventFilter


def test_numbers_read_the_same_without_colour() -> None:
    assert bar(3, 10, 10) == "[###.......]"
    assert bar(5, 0, 4) == "[....]"
    assert bar(20, 10, 4) == "[####]"
    assert percent(1, 3) == "33%" and percent(1, 0) == "-"
    assert per_second(None) == "-" and per_second(2.25) == "2.2"
    assert seconds(None) == "-" and seconds(0.5) == "0.50s"
    assert clip("a  b\nc", 10) == "a b c" and clip("abcdef", 4) == "abc…"
    assert clock(0) == "--:--:--" and len(clock(1000.0)) == 8


def test_throughput_is_measured_from_sampled_counts() -> None:
    meter = Throughput()
    assert meter.rate("qa", 0.0) is None
    meter.record(100.0, {"qa": 10})
    assert meter.rate("qa", 100.0) is None  # one sample says nothing about speed
    meter.record(102.0, {"qa": 30, "other": 0})
    assert meter.rate("qa", 102.0) == 10.0
    meter.record(104.0, {"qa": 20})  # a count that drops (a job deleted and made again) is no negative speed
    assert meter.rate("qa", 104.0) == pytest.approx(20 / 4)
    assert "other" not in meter._samples  # a job that went away is forgotten
    history = meter.history(104.0, 60)
    assert len(history) == 60 and history[-1] == pytest.approx(20 / (HISTORY_S / 60))
    meter.record(104.0 + HISTORY_S + 1, {"qa": 20})
    assert meter.rate("qa", 104.0 + HISTORY_S + 1) is None  # old samples fell out of the window


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=80))
def test_sparkline_has_one_bar_per_value_scaled_to_the_peak(values: list[float]) -> None:
    line = sparkline(values)
    assert len(line) == len(values)
    assert set(line) <= set(BARS[1:])
    if values and max(values) > 0:
        assert line[values.index(max(values))] == BARS[-1]


def test_health_rows_are_summed_per_provider() -> None:
    rows = [
        ProviderHealth("qa", "b", "w1", requests=2, errors={"server": 1, "timeout": 1}, circuit=Circuit.OPEN),
        ProviderHealth("qa", "a", "w1", requests=0),
        ProviderHealth("qa", "b", "w2", model="m2", requests=2, latency_p50_s=0.1, updated_at=9.0),
    ]
    a, b = provider_lines(rows)
    assert a.provider == "a" and a.error_rate is None and a.latency_p50_s is None
    assert (b.requests, b.errors, b.error_rate, b.model, b.circuit) == (4, 2, 0.5, "m2", Circuit.OPEN)
    assert provider_lines([]) == []


names = st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=12).filter(lambda s: s != "any")


@given(job=st.none() | names, provider=st.none() | names, severity=st.none() | st.sampled_from(["info", "error"]))
def test_event_filter_parses_what_it_describes(job: str | None, provider: str | None, severity: str | None) -> None:
    chosen = EventFilter(job, provider, severity)
    assert EventFilter.parse(chosen.describe()) == chosen
    event = Event("kind", job or "j", provider=provider or "p", severity=severity or "warning")
    assert chosen.admits(event) == (severity is None or event.severity == severity)


def test_event_filter_names_a_word_it_cannot_read() -> None:
    assert EventFilter.parse("") == EventFilter()
    assert EventFilter.parse("job= severity=any") == EventFilter()
    for bad in ("qa", "colour=red"):
        with pytest.raises(ValueError, match=f"{bad!r}: write job=NAME, provider=NAME or severity=LEVEL"):
            EventFilter.parse(f"job=qa {bad}")
