"""Merging provider health rows across processes, and the one line `show` prints per provider."""

from __future__ import annotations

from typing import cast

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import Circuit, ProviderHealth, StateStore
from destilation.health import format_cost, format_health, health_to_json, merge_health, total_cost
from destilation.testing.store_contract import health

counts = st.integers(0, 10**6)
latencies = st.none() | st.floats(0, 600, allow_nan=False)
rows = st.builds(
    ProviderHealth,
    job=st.sampled_from(["a", "b"]),
    provider=st.sampled_from(["p", "q"]),
    owner=st.sampled_from(["w1", "w2", "w3"]),
    requests=counts,
    successes=counts,
    errors=st.dictionaries(st.sampled_from(["server", "timeout", "auth"]), st.integers(1, 100), max_size=3),
    latency_p50_s=latencies,
    latency_p95_s=latencies,
    concurrency_limit=st.integers(0, 64),
    circuit=st.sampled_from(list(Circuit)),
    held_until=st.none() | st.floats(0, 2e9, allow_nan=False),
    prompt_tokens=counts,
    cost=st.floats(0, 100, allow_nan=False),
    last_error=st.none() | st.text(min_size=1, max_size=5),
    updated_at=st.floats(0, 2e9, allow_nan=False),
)


@given(st.lists(rows, max_size=12))
def test_merging_keeps_every_count_once_per_provider(found: list[ProviderHealth]) -> None:
    merged = merge_health(found)
    keys = [(m.job, m.provider) for m in merged]
    assert keys == sorted({(r.job, r.provider) for r in found})
    for m in merged:
        mine = [r for r in found if (r.job, r.provider) == (m.job, m.provider)]
        assert m.requests == sum(r.requests for r in mine)
        assert m.prompt_tokens == sum(r.prompt_tokens for r in mine)
        assert m.concurrency_limit == sum(r.concurrency_limit for r in mine)
        assert sum(m.errors.values()) == sum(sum(r.errors.values()) for r in mine)
        assert m.cost == pytest.approx(sum(r.cost for r in mine))
        assert m.updated_at == max(r.updated_at for r in mine)
        assert set(m.owner.split(", ")) == {r.owner for r in mine}
        p95 = [r.latency_p95_s for r in mine if r.latency_p95_s is not None]
        assert m.latency_p95_s == (max(p95) if p95 else None)  # an upper bound of every owner's
        worst = {r.circuit for r in mine}
        assert m.circuit is next(c for c in (Circuit.OPEN, Circuit.HALF_OPEN, Circuit.CLOSED) if c in worst)
    # Merging again changes no figure: a merged row is one owner's row of the same totals.
    assert [(m.requests, m.cost, m.errors) for m in merge_health(merged)] == [
        (m.requests, m.cost, m.errors) for m in merged
    ]


@given(st.lists(rows, min_size=1, max_size=8), st.randoms())
def test_merging_does_not_depend_on_the_order_rows_come_in(found: list[ProviderHealth], rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(found)
    rng.shuffle(shuffled)
    assert [(m.requests, m.errors, m.circuit, m.held_until, m.owner) for m in merge_health(found)] == [
        (m.requests, m.errors, m.circuit, m.held_until, m.owner) for m in merge_health(shuffled)
    ]


def test_the_latest_error_model_and_details_win() -> None:
    old = health("j", "p", "a", model="m-old", last_error="old", details={"mode": "tools", "extra": 1}, updated_at=1.0)
    new = health("j", "p", "b", model="m-new", last_error=None, details={"mode": "json_object"}, updated_at=2.0)
    newest_failure = health("j", "p", "c", model="m-new", last_error="new", details={}, updated_at=1.5)
    (merged,) = merge_health([new, old, newest_failure])
    assert (merged.model, merged.last_error) == ("m-new", "new")
    assert merged.details == {"mode": "json_object", "extra": 1}
    assert merged.errors == {"rate_limited": 3, "server": 3}
    assert merge_health([]) == []
    assert total_cost([old, new]) == 0.5


def test_one_line_per_provider_says_everything_show_promises() -> None:
    row = health(
        "j",
        "openrouter",
        "w",
        model="gpt",
        circuit=Circuit.HALF_OPEN,
        held_until=3600.0 * 13 + 5,
        details={"structured_output": "json_object", "tools": True, "models": ["a", "b"], "x": {"k": None}},
    )
    line = format_health(row, now=0.0)
    assert line == (
        "openrouter (gpt): 10 requests; 8 ok; errors rate_limited 1, server 1; 1 retries, 1 failovers; "
        "p50 0.50s p95 2.00s; concurrency 4 (2 in flight); circuit half-open, held back until 13:00:05 UTC; "
        "tokens 100 in, 200 out; cost $0.2500; models: a, b; structured_output: json_object; tools: true; x: k=null"
    )
    # Past its time the hold is not mentioned; a quiet provider says so.
    quiet = health("j", "ollama", "w", model="", errors={}, retries=0, failovers=0, latency_p50_s=None, held_until=5.0)
    assert format_health(quiet, now=10.0) == (
        "ollama: 10 requests; 8 ok; no errors; p50 - p95 2.00s; concurrency 4 (2 in flight); circuit closed; "
        "tokens 100 in, 200 out; cost $0.2500; structured_output: json_object"
    )
    assert "held back until" in format_health(quiet)
    assert format_cost(1.23456) == "$1.2346"


def test_json_has_every_field_in_plain_values() -> None:
    row = health("j", "p", "w", circuit=Circuit.OPEN, held_until=9.0, last_error="boom")
    data = health_to_json(row)
    assert set(data) == {f.name for f in attrs.fields(ProviderHealth)}
    assert (data["circuit"], data["held_until"], data["errors"], data["last_error"]) == (
        "open",
        9.0,
        {"rate_limited": 1, "server": 1},
        "boom",
    )
    assert ProviderHealth(**{**data, "circuit": Circuit(data["circuit"])}) == row  # type: ignore[arg-type]


def test_a_store_without_health_support_keeps_nothing_and_numbers_no_events() -> None:
    store = cast(StateStore, None)  # the port's defaults never touch the store
    assert anyio.run(StateStore.record_health, store, [health("j", "p", "w")]) is None
    assert anyio.run(StateStore.provider_health, store, "j") == []
    assert anyio.run(lambda: StateStore.query_events(store, "j")) is None
