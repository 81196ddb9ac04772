"""The row codec round-trips every domain value exactly, in memory and through both databases."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sql_helpers import JOB, seeds

from destilation import (
    Accept,
    Attempt,
    AttemptPayload,
    Event,
    Issue,
    Message,
    Sample,
    Severity,
    StoreError,
    TaskSeed,
    ToolCall,
    Usage,
)
from destilation_sql import codec
from destilation_sql.store import SqlStore

# Values JSON can carry both ways (no NaN or infinities, which the codec refuses on purpose).
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    scalars | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
issues = st.builds(Issue, st.text(), st.text(), st.text(), st.none() | st.text(), st.sampled_from(list(Severity)))
usages = st.builds(Usage, st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 2**40))
tool_calls = st.builds(ToolCall, st.text(), st.text(), st.text())
finite = st.floats(allow_nan=False, allow_infinity=False)
seeds_ = st.builds(
    TaskSeed,
    st.integers(0, 2**40),
    st.dictionaries(st.text(max_size=8), st.text(), max_size=4),
    st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)
messages = st.builds(
    Message,
    st.text(),
    st.text(),
    st.none() | st.text(),
    st.lists(tool_calls, max_size=2).map(tuple),
    st.none() | st.text(),
)
payloads = st.builds(
    AttemptPayload,
    st.lists(messages, max_size=3).map(tuple),
    st.text(),
    st.none() | st.text(),
    st.lists(issues, max_size=2).map(tuple),
)
attempts = st.builds(
    Attempt,
    number=st.integers(1, 100),
    provider=st.text(),
    model=st.text(),
    ok=st.booleans(),
    latency_s=finite,
    usage=usages,
    cost=st.none() | finite,
    finish_reason=st.none() | st.text(),
    issues=st.lists(issues, max_size=3).map(tuple),
    error=st.none() | st.text(),
    payload=st.none() | payloads,
)
samples = st.builds(
    Sample,
    job=st.text(),
    task_index=st.integers(0, 2**40),
    content=json_values,
    content_hash=st.text(),
    template_id=st.text(),
    template_version=st.text(),
    provider=st.text(),
    model=st.text(),
    attempts=st.integers(1, 100),
    usage=usages,
    cost=st.none() | finite,
    scores=st.dictionaries(st.text(max_size=8), finite, max_size=3),
    reasoning=st.none() | st.text(),
    tool_calls=st.lists(tool_calls, max_size=3).map(tuple),
    seq=st.integers(1, 2**40),
    mode=st.none() | st.text(),
    latency_s=finite,
    seed=st.none() | seeds_,
    messages=st.lists(messages, max_size=3).map(tuple),
    preamble=st.none() | st.text(),
)
events = st.builds(
    Event,
    kind=st.text(),
    job=st.text(),
    message=st.text(),
    severity=st.sampled_from(["info", "warning", "error"]),
    provider=st.none() | st.text(),
    task_index=st.none() | st.integers(0, 2**40),
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    at=finite.filter(lambda x: x != 0),
)


@given(samples)
def test_samples_round_trip(sample: Sample) -> None:
    row: dict[str, Any] = codec.sample_to_row(sample, 1.0)
    row["seq"] = sample.seq
    assert codec.sample_from_row(row) == sample


@given(attempts)
def test_attempts_round_trip(attempt: Attempt) -> None:
    assert codec.attempt_from_row(codec.attempt_to_row("j", 3, attempt, 1.0)) == attempt


def test_rows_an_older_release_wrote_read_without_payload_or_lineage() -> None:
    sample = Sample("j", 0, {"a": 1}, "h", "t", "1", "p", "m", 1, seq=1, mode="simple", latency_s=1.5)
    row: dict[str, Any] = {**codec.sample_to_row(sample, 1.0), "seq": 1, "lineage": None}
    assert codec.sample_from_row(row) == attrs.evolve(sample, mode=None, latency_s=0.0)
    attempt = Attempt(1, "p", "m", False, payload=AttemptPayload(response="x"))
    assert codec.attempt_from_row({**codec.attempt_to_row("j", 0, attempt, 1.0), "payload": None}).payload is None


@given(seeds_, st.lists(issues, max_size=3).map(tuple))
def test_task_seeds_and_reasons_round_trip(seed: TaskSeed, reasons: tuple[Issue, ...]) -> None:
    row = codec.seed_to_row("j", seed)
    row["reasons"] = codec.issues_dumps(reasons, "test")
    task = codec.task_from_row(row)
    assert task.seed == seed
    assert task.reasons == reasons
    assert task.job == "j"


@given(events)
def test_events_round_trip(event: Event) -> None:
    assert codec.event_from_row(codec.event_to_row(event, 5.0)) == event


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}, b"bytes"])
def test_values_json_cannot_carry_are_refused_by_name(value: object) -> None:
    with pytest.raises(StoreError, match=r"^the thing: cannot be stored as JSON: "):
        codec.dumps(value, "the thing")


@pytest.mark.anyio
async def test_a_full_sample_and_attempt_survive_the_database(store: SqlStore) -> None:
    await store.create_job(JOB, {"ünïcode": "✓", "nested": [1, 2.5, None, True]}, 1)
    await store.add_tasks(JOB, seeds(1))
    [task] = await store.claim(JOB, "w", 1, 60)
    attempt = Attempt(
        1,
        "teacher",
        "big-1",
        True,
        0.1 + 0.2,
        Usage(2**40, 7, 3),
        1e-300,
        "length",
        (Issue("warn", "long", "$.a[0]", "shorter", Severity.WARNING),),
        None,
        AttemptPayload(
            (Message("system", "be brief"), Message("user", "write ✓", tool_call_id="t1")),
            '{"q": "日本語"}',
            "thought\nhard",
            (Issue("near_duplicate", "too similar", hint="another angle"),),
        ),
    )
    sample = Sample(
        job=JOB,
        task_index=0,
        content={"q": "日本語 and emoji 🎉", "n": [1, -0.0, 1.7976931348623157e308], "deep": {"x": None}},
        content_hash="f" * 32,
        template_id="reasoning",
        template_version="2.1",
        provider="teacher",
        model="big-1",
        attempts=1,
        usage=Usage(11, 22, 33),
        cost=0.000123,
        scores={"judge": 0.875, "len": 3.0},
        reasoning="because\nof reasons",
        tool_calls=(ToolCall("c1", "search", '{"q": "x"}'),),
        mode="reasoning",
        latency_s=1.25,
        seed=task.seed,
        messages=(Message("user", "write ✓"), Message("assistant", "", "r", (ToolCall("c2", "f", "{}"),))),
        preamble="sha256:0123456789abcdef",
    )
    [result] = await store.commit("w", [Accept(task, attempt, sample)])
    detail = await store.get_task(JOB, 0)
    assert detail is not None
    assert detail.attempts == (attempt,)
    assert detail.sample == attrs.evolve(sample, seq=result.seq)
    job = await store.get_job(JOB)
    assert job is not None
    assert job.spec == {"ünïcode": "✓", "nested": [1, 2.5, None, True]}
