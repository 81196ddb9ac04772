"""Property tests: whatever bytes a server sends, parsing yields a result or a ProviderError, nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import Generation, ProviderError
from destilation.policy import retry_after_seconds
from destilation_openrouter.parse import excerpt, parse_generation, parse_models, status_error

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the expected shape, sometimes any JSON value in its place."""
    return st.one_of(strategy, strategy, strategy, json_values)


# Shapes close to a real completion, so the deeper branches are reached, not only the first check.
function = st.fixed_dictionaries({"name": maybe(st.text(max_size=8))}, optional={"arguments": json_values})
tool_call = st.fixed_dictionaries({"function": maybe(function)}, optional={"id": maybe(st.text(max_size=8))})
parts = st.lists(st.fixed_dictionaries({"text": maybe(st.text(max_size=8))}), max_size=3)
detail = st.fixed_dictionaries(
    {"type": maybe(st.sampled_from(["reasoning.text", "reasoning.summary", "reasoning.encrypted"]))},
    optional={"text": maybe(st.text(max_size=8)), "summary": maybe(st.text(max_size=8)), "data": json_values},
)
message = st.fixed_dictionaries(
    {},
    optional={
        "content": st.one_of(st.none(), st.text(max_size=20), parts, json_values),
        "reasoning": st.one_of(st.none(), st.text(max_size=8), json_values),
        "reasoning_content": st.one_of(st.text(max_size=8), json_values),
        "reasoning_details": st.one_of(st.lists(maybe(detail), max_size=3), json_values),
        "tool_calls": st.one_of(st.none(), st.lists(tool_call, max_size=3), json_values),
    },
)
choice = st.fixed_dictionaries(
    {"message": maybe(message)},
    optional={
        "finish_reason": st.one_of(st.sampled_from(["stop", "length", "error"]), json_values),
        "error": json_values,
    },
)
usage = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": st.one_of(st.integers(), json_values),
        "completion_tokens": st.one_of(st.integers(), json_values),
        "completion_tokens_details": maybe(st.fixed_dictionaries({}, optional={"reasoning_tokens": json_values})),
        "cost": st.one_of(st.floats(), st.integers(), json_values),
    },
)
completion = st.fixed_dictionaries(
    {"choices": maybe(st.lists(choice, min_size=1, max_size=2))},
    optional={"usage": maybe(usage), "model": json_values, "error": st.one_of(st.none(), json_values)},
)


def check(raw: bytes) -> None:
    try:
        generation = parse_generation(raw, provider="p", model="m", latency_s=0.5)
    except ProviderError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert "\n" not in message
        return
    assert isinstance(generation, Generation)
    assert isinstance(generation.text, str)
    assert generation.usage.prompt_tokens >= 0 and generation.usage.completion_tokens >= 0
    assert generation.cost is None or generation.cost == generation.cost  # never NaN
    assert all(isinstance(c.arguments, str) for c in generation.tool_calls)


@given(completion)
def test_completion_shaped_json_never_raises_anything_else(value: Any) -> None:
    check(json.dumps(value).encode())


@given(json_values)
def test_arbitrary_json_never_raises_anything_else(value: Any) -> None:
    check(json.dumps(value).encode())


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_else(raw: bytes) -> None:
    check(raw)
    try:
        models = parse_models(raw, "p")
    except ProviderError:
        models = []
    assert all(isinstance(x, str) for x in models)


@given(json_values)
def test_models_of_arbitrary_json(value: Any) -> None:
    try:
        models, message = parse_models(json.dumps(value).encode(), "p"), ""
    except ProviderError as exc:
        models, message = [], str(exc)
    assert all(isinstance(x, str) for x in models)
    assert message in ("", "invalid response from p: no model list under 'data'")


@given(
    st.integers(100, 599),
    st.one_of(st.binary(max_size=100), json_values.map(lambda v: json.dumps(v).encode())),
    st.none() | st.text(max_size=40),
)
def test_status_errors_are_always_one_line(status: int, raw: bytes, header: str | None) -> None:
    error = status_error("p", status, raw, header)
    assert isinstance(error, ProviderError) and error.status == status
    assert "\n" not in str(error) and len(str(error)) < 400
    assert error.retry_after is None or error.retry_after >= 0


@given(st.text(max_size=60))
def test_retry_after_never_raises(header: str) -> None:
    value = retry_after_seconds(header)
    assert value is None or value >= 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), ("-5", 0.0), ("1.5", 1.5), ("nan", None), ("inf", None), ("soon", None), (None, None)],
)
def test_retry_after_values(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date_relative_to_now() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_deeply_nested_json_is_an_invalid_response() -> None:
    with pytest.raises(ProviderError, match="invalid response from p: not JSON"):
        parse_generation(b"[" * 100_000, provider="p", model="m", latency_s=0)


def test_content_parts_are_joined() -> None:
    body = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "image"}, {"text": "b"}]}}]}
    assert parse_generation(json.dumps(body).encode(), provider="p", model="m", latency_s=0).text == "ab"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "invalid response from p: expected a JSON object, got list"),
        ({"choices": [{"message": "hi"}]}, "invalid response from p: choices[0].message is missing"),
        ({"choices": [{"message": {"content": 5}}]}, "invalid response from p: message.content is a int"),
        ({"choices": [{"message": {"tool_calls": {}}}]}, "invalid response from p: message.tool_calls is not a list"),
        (
            {"choices": [{"message": {"tool_calls": [{"function": {}}]}}]},
            "invalid response from p: message.tool_calls[0] has no function name",
        ),
        ({"choices": [{"finish_reason": "error"}]}, "p: generation failed upstream: no detail"),
        ({"error": "overloaded"}, "p: error in response: overloaded"),
        ({"error": {"code": 1}}, 'p: error in response: {"code": 1}'),
    ],
)
def test_malformed_completions(body: Any, message: str) -> None:
    with pytest.raises(ProviderError) as info:
        parse_generation(json.dumps(body).encode(), provider="p", model="m", latency_s=0)
    assert str(info.value) == message


def test_absurd_numbers_in_usage_are_dropped() -> None:
    body = b'{"choices": [{"message": {}}], "usage": {"prompt_tokens": -3, "cost": 1' + b"0" * 400 + b"}}"
    generation = parse_generation(body, provider="p", model="m", latency_s=0)
    assert generation.cost is None and generation.usage.prompt_tokens == 0


def test_a_cost_that_is_not_a_number_is_dropped() -> None:
    body = b'{"choices": [{"message": {}}], "usage": {"cost": "0.5"}}'
    assert parse_generation(body, provider="p", model="m", latency_s=0).cost is None


def test_missing_fields_take_defaults() -> None:
    generation = parse_generation(
        b'{"choices": [{"message": {}}], "usage": {"cost": NaN}}', provider="p", model="m", latency_s=1.0
    )
    assert generation == Generation(text="", provider="p", model="m", finish_reason=None, cost=None, latency_s=1.0)


def test_reasoning_content_spelling_is_read() -> None:
    body = {"choices": [{"message": {"content": "x", "reasoning_content": "because"}}]}
    assert parse_generation(json.dumps(body).encode(), provider="p", model="m", latency_s=0).reasoning == "because"


def test_reasoning_details_are_read_when_no_reasoning_text_came() -> None:
    details = [
        {"type": "reasoning.summary", "summary": "Weighed two options."},
        {"type": "reasoning.encrypted", "data": "opaque"},
        {"type": "reasoning.text", "text": "Option one is cheaper.", "signature": None},
        {"type": "reasoning.text", "text": ""},
        "junk",
    ]
    body = {"choices": [{"message": {"content": "x", "reasoning_details": details}}]}
    generation = parse_generation(json.dumps(body).encode(), provider="p", model="m", latency_s=0)
    assert generation.reasoning == "Weighed two options.\nOption one is cheaper."
    only_encrypted = {"choices": [{"message": {"content": "x", "reasoning_details": [details[1]]}}]}
    assert parse_generation(json.dumps(only_encrypted).encode(), provider="p", model="m", latency_s=0).reasoning is None


def test_a_200_carrying_an_error_in_its_choice_is_an_error() -> None:
    body = {"choices": [{"message": {"content": "part"}, "finish_reason": "stop", "error": {"message": "upstream"}}]}
    with pytest.raises(ProviderError, match="generation failed upstream: upstream") as info:
        parse_generation(json.dumps(body).encode(), provider="p", model="m", latency_s=0)
    assert info.value.retryable


def test_an_empty_answer_cut_at_the_limit_is_returned_as_a_truncation() -> None:
    body = {
        "model": "x/answered",
        "choices": [{"message": {"content": "", "reasoning": "hmm"}, "finish_reason": "length"}],
    }
    generation = parse_generation(json.dumps(body).encode(), provider="p", model="asked", latency_s=0)
    assert (generation.text, generation.finish_reason, generation.model) == ("", "length", "x/answered")


def test_excerpt_is_one_short_line() -> None:
    assert excerpt("a\n b\t\tc") == "a b c"
    long = excerpt("x" * 500)
    assert len(long) == 200 and long.endswith("…")
