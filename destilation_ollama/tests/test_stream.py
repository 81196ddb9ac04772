"""The NDJSON reader: however the transport cuts the bytes, the same lines and the same answer come out."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import ProviderError, ToolCall
from destilation_ollama.parse import ChatAnswer, load_json
from destilation_ollama.stream import LineSplitter

text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
message = st.fixed_dictionaries(
    {"role": st.just("assistant"), "content": text},
    optional={
        "thinking": text,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {
                    "function": st.fixed_dictionaries(
                        {
                            "name": st.text(min_size=1, max_size=5),
                            "arguments": st.dictionaries(text, st.integers(), max_size=2),
                        }
                    )
                }
            ),
            max_size=2,
        ),
    },
)
line = st.fixed_dictionaries({"model": st.just("m"), "message": message, "done": st.just(False)})
final = st.fixed_dictionaries(
    {"done": st.just(True), "done_reason": st.sampled_from(["stop", "length"]), "eval_count": st.integers(0, 99)}
)


def encode(objects: list[dict[str, Any]], ending: bytes) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False).encode() + ending for o in objects)


def cut(body: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(body), *(p % (len(body) + 1) for p in points)})
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def read(chunks: list[bytes]) -> ChatAnswer:
    splitter = LineSplitter()
    answer = ChatAnswer("t")
    for chunk in chunks:
        for raw in splitter.feed(chunk):
            answer.add(load_json(raw, "t"))
    for raw in splitter.end():
        answer.add(load_json(raw, "t"))
    return answer


@given(
    st.lists(line, max_size=6),
    final,
    st.lists(st.integers(0, 10_000), max_size=20),
    st.sampled_from([b"\n", b"\r\n", b"\n\n"]),
    st.booleans(),
)
def test_any_chunking_gives_the_same_answer(
    objects: list[dict[str, Any]], last: dict[str, Any], points: list[int], ending: bytes, trailing: bool
) -> None:
    body = encode([*objects, last], ending)
    if not trailing:
        body = body.rstrip(b"\r\n")
    whole = read([body])
    pieces = read(cut(body, points))
    bytewise = read([body[i : i + 1] for i in range(len(body))])
    assert pieces == whole == bytewise
    generation = pieces.generation(model="m", latency_s=0.0, cost=0.0)
    assert generation.text == "".join(o["message"]["content"] for o in objects)
    assert generation.reasoning == ("".join(o["message"].get("thinking", "") for o in objects) or None)
    calls = [c for o in objects for c in o["message"].get("tool_calls", [])]
    assert generation.tool_calls == tuple(
        ToolCall(f"call_{i}", c["function"]["name"], json.dumps(c["function"]["arguments"], ensure_ascii=False))
        for i, c in enumerate(calls)
    )
    assert (generation.finish_reason, generation.usage.completion_tokens) == (last["done_reason"], last["eval_count"])


@given(st.lists(st.binary(max_size=20), max_size=10))
def test_lines_are_exactly_the_non_blank_newline_separated_parts(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    lines = [raw for chunk in chunks for raw in splitter.feed(chunk)] + splitter.end()
    expected = [part.rstrip(b"\r") for part in b"".join(chunks).split(b"\n") if part.strip()]
    assert lines == expected


def test_an_empty_chunk_and_an_empty_end_give_nothing() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"") == [] and splitter.end() == []
    assert splitter.feed(b"ab") == [] and splitter.feed(b"c\n  \nd") == [b"abc"] and splitter.end() == [b"d"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "message",
                    "content",
                    "thinking",
                    "tool_calls",
                    "function",
                    "name",
                    "arguments",
                    "done",
                    "done_reason",
                    "error",
                    "model",
                    "eval_count",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(st.lists(json_values, max_size=5), st.lists(st.binary(max_size=30), max_size=3))
def test_whatever_a_server_streams_ends_as_an_answer_or_one_provider_error(
    values: list[Any], garbage: list[bytes]
) -> None:
    body = b"".join(json.dumps(v).encode() + b"\n" for v in values) + b"".join(garbage)
    outcome: Any
    try:
        outcome = read([body]).generation(model="m", latency_s=0.0, cost=0.0)
    except ProviderError as exc:
        outcome = exc
    if isinstance(outcome, ProviderError):
        assert str(outcome) and "\n" not in str(outcome)
    else:
        assert isinstance(outcome.text, str)
        assert all(isinstance(call.arguments, str) for call in outcome.tool_calls)


def test_an_error_line_anywhere_fails_the_stream() -> None:
    lines = [{"message": {"content": "a"}}, {"error": "boom"}, {"done": True}]
    body = b"".join(json.dumps(o).encode() + b"\n" for o in lines)
    for size in (1, 3, len(body)):
        with pytest.raises(ProviderError) as info:
            read([body[i : i + size] for i in range(0, len(body), size)])
        assert str(info.value) == "t: error mid-stream: boom"
