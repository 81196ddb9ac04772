"""The protocol's pure functions: what the parent writes and how every line it reads is judged."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from script_helpers import ask

from destilation import Secret, Usage
from destilation_script.protocol import (
    ERROR_KINDS,
    Hello,
    Other,
    ProtocolError,
    Reply,
    cancel_message,
    decode,
    encode,
    generate_message,
    generation,
    parent_hello,
    provider_error,
)


def test_every_line_the_parent_writes_is_ascii_json_with_type_then_id_first() -> None:
    line = encode(generate_message(7, ask("naïve \ud83d\ude00 \n end"), "m"))
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert line.decode("ascii").startswith('{"type":"generate","id":7,"request":{')
    assert json.loads(line)["request"]["messages"][0]["content"] == "naïve \U0001f600 \n end"
    assert encode(cancel_message(3)) == b'{"type":"cancel","id":3}\n'
    assert json.loads(encode(parent_hello("t", "m"))) == {
        "type": "hello",
        "protocol": 1,
        "client": "destilation",
        "provider": "t",
        "model": "m",
    }


def test_a_lone_surrogate_in_a_prompt_still_makes_a_valid_line() -> None:
    line = encode(generate_message(1, ask("half \ud800 a pair"), "m"))
    assert line.isascii() and "\\ud800" in line.decode()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"hello there", "not a JSON line"),
        (b"\xff\xfe", "not a JSON line"),
        (b'{"type": "result", "id": 1, "cost": NaN}', "not a JSON line"),
        (b"[" * 100_000, "not a JSON line"),
        (b"[1]", "not a JSON object"),
        (b'{"id": 1}', 'no "type" string'),
        (b'{"type": "result"}', 'a "result" without an integer "id"'),
        (b'{"type": "error", "id": true}', 'a "error" without an integer "id"'),
        (b'{"type": "hello"}', 'hello: "protocol" must be an integer'),
        (b'{"type": "hello", "protocol": 1, "name": 3}', 'hello: "name" must be a string'),
        (b'{"type": "hello", "protocol": 1, "models": "m"}', 'hello: "models" must be a list of strings'),
        (b'{"type": "hello", "protocol": 1, "capabilities": [1]}', 'hello: "capabilities" must be a list of strings'),
    ],
)
def test_lines_that_break_the_protocol_say_why(line: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(line)
    assert str(caught.value) == reason


def test_the_messages_a_child_sends_are_told_apart() -> None:
    assert decode(b'{"type":"hello","protocol":1,"name":"x","models":["a"],"capabilities":["tools"]}') == Hello(
        1, "x", ("a",), frozenset({"tools"})
    )
    assert decode(b'{"type":"hello","protocol":1}') == Hello(1, "", (), frozenset())
    assert decode(b'{"type":"result","id":4,"content":"c"}') == Reply(
        4, "result", {"type": "result", "id": 4, "content": "c"}
    )
    assert decode(b'{"type":"log","message":"hi"}') == Other("log")


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_message_or_a_protocol_error(data: bytes) -> None:
    message: object
    try:
        message = decode(data)
    except ProtocolError as exc:  # only ever this, with a reason: never a traceback of another kind
        message = str(exc)
    assert isinstance(message, Hello | Reply | Other) or message


def test_a_result_with_only_content_takes_the_defaults() -> None:
    answer = generation({"content": "x"}, provider="p", model="m", latency_s=0.5)
    assert (answer.text, answer.provider, answer.model, answer.finish_reason) == ("x", "p", "m", "stop")
    assert (answer.usage, answer.cost, answer.reasoning, answer.tool_calls, answer.latency_s) == (
        Usage(),
        None,
        None,
        (),
        0.5,
    )
    assert (
        generation({"content": "", "finish_reason": None}, provider="p", model="m", latency_s=0).finish_reason is None
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, '"content" must be a string'),
        ({"content": "x", "tool_calls": {}}, '"tool_calls" must be a list'),
        ({"content": "x", "tool_calls": [{"id": "a"}]}, '"tool_calls[0]" must be an object with a "name" string'),
        ({"content": "x", "tool_calls": [{"name": "f", "id": 3}]}, '"tool_calls[0].id" must be a string'),
        ({"content": "x", "model": 1}, '"model" must be a string or null'),
        ({"content": "x", "usage": []}, '"usage" must be an object'),
        ({"content": "x", "usage": {"prompt_tokens": -1}}, '"usage.prompt_tokens" must be a whole number >= 0'),
        ({"content": "x", "usage": {"completion_tokens": True}}, '"usage.completion_tokens" must be a whole number'),
        ({"content": "x", "cost": "free"}, '"cost" must be a number >= 0 or null'),
        ({"content": "x", "cost": -1}, '"cost" must be a number >= 0 or null'),
    ],
)
def test_a_malformed_result_says_which_field(body: dict, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        generation(body, provider="p", model="m", latency_s=0)


def test_an_error_message_quoting_a_key_is_redacted() -> None:
    key = Secret("upstream-key-0123456789").reveal()
    error = provider_error({"kind": "auth", "message": f"key {key} refused, Bearer abcdefghijkl"}, "p")
    assert key not in str(error) and "abcdefghijkl" not in str(error) and str(error).startswith("p: auth: key ***")


def test_errors_map_to_statuses_the_core_classifies() -> None:
    assert ERROR_KINDS["rate_limited"] == (429, True)
    assert ERROR_KINDS["auth"] == (401, False)
    error = provider_error({"kind": "overloaded", "message": "queue full", "retry_after": 3}, "p")
    assert (str(error), error.status, error.retryable, error.retry_after) == (
        "p: overloaded: queue full",
        503,
        True,
        3.0,
    )
    unknown = provider_error({"kind": 5, "retry_after": "soon"}, "p")
    assert (str(unknown), unknown.status, unknown.retryable, unknown.retry_after) == (
        "p: unknown: unknown",
        None,
        True,
        None,
    )
    forced = provider_error({"kind": "server", "retryable": False, "retry_after": -1, "message": "m" * 900}, "p")
    assert forced.retryable is False and forced.retry_after is None and len(str(forced)) == len("p: server: ") + 500
