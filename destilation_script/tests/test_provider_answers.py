"""A well-behaved child: handshake, several requests in flight answered out of order, every field read."""

from __future__ import annotations

import json
import sys

import anyio
import attrs
import pytest
from script_helpers import ask

from destilation import Generation, Message, ProviderError, Secret, ToolCall, ToolSpec, Usage

pytestmark = pytest.mark.anyio

OUT_OF_ORDER = """
hello()
held = []
for message in requests():
    held.append(message)
    if len(held) == 3:  # answer the three in reverse order of arrival
        for waiting in reversed(held):
            result(waiting, "answer to " + prompt(waiting))
        held = []
"""


async def test_requests_in_flight_are_answered_out_of_order_and_matched_by_id(build, events) -> None:
    provider = build(OUT_OF_ORDER)
    answers: dict[str, Generation] = {}

    async def one(text: str) -> None:
        answers[text] = await provider.generate(ask(text))

    try:
        async with anyio.create_task_group() as group:
            for text in ("first", "second", "third"):
                group.start_soon(one, text)
        assert {k: v.text for k, v in answers.items()} == {t: f"answer to {t}" for t in ("first", "second", "third")}
        assert all(a.provider == "t" and a.model == "m1" and a.finish_reason == "stop" for a in answers.values())
        assert await provider.models() == ["m1", "m2"]
        assert provider.info().capabilities == {"json_schema", "tools"}
        details = provider.health_details()
        assert details["script"] == "test-child" and isinstance(details["pid"], int) and details["restarts"] == 0
    finally:
        await provider.aclose()
    assert provider.health_details()["pid"] is None
    started = [e for e in events if e.kind == "script_started"]
    assert len(started) == 1 and started[0].provider == "t" and started[0].data["models"] == ["m1", "m2"]
    assert [e.kind for e in events][-1] == "script_stopped"


async def test_every_field_of_a_result_and_the_request_reach_their_side(build) -> None:
    provider = build(
        """
        hello()
        for message in requests():
            r = message["request"]
            send({"type": "result", "id": message["id"], "content": json.dumps(r, sort_keys=True),
                  "reasoning": "thought", "model": "m2", "finish_reason": "length", "cost": 0.25,
                  "usage": {"prompt_tokens": 3, "completion_tokens": 4, "reasoning_tokens": 5},
                  "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 1}},
                                 {"name": "sub", "arguments": "{}"}]})
        """
    )
    request = ask(
        "hi",
        model="m2",
        temperature=0.5,
        max_tokens=7,
        response_schema={"type": "object"},
        tools=(ToolSpec("add", "adds", {"type": "object"}),),
        reasoning=True,
        seed=11,
    )
    history = (
        Message("assistant", "", reasoning="r", tool_calls=(ToolCall("c0", "add", "{}"),)),
        Message("tool", "2", tool_call_id="c0"),
        *request.messages,
    )
    try:
        answer = await provider.generate(attrs.evolve(request, messages=history, attempt=2))
    finally:
        await provider.aclose()
    sent = json.loads(answer.text)
    assert sent["model"] == "m2" and sent["temperature"] == 0.5 and sent["max_tokens"] == 7
    assert sent["response_schema"] == {"type": "object"} and sent["reasoning"] is True and sent["seed"] == 11
    assert sent["attempt"] == 2
    assert sent["tools"] == [{"name": "add", "description": "adds", "parameters": {"type": "object"}}]
    assert sent["messages"] == [
        {
            "role": "assistant",
            "content": "",
            "reasoning": "r",
            "tool_calls": [{"id": "c0", "name": "add", "arguments": "{}"}],
        },
        {"role": "tool", "content": "2", "tool_call_id": "c0"},
        {"role": "user", "content": "hi"},
    ]
    assert answer.reasoning == "thought" and answer.model == "m2" and answer.finish_reason == "length"
    assert answer.cost == 0.25 and answer.usage == Usage(3, 4, 5)
    assert answer.tool_calls == (ToolCall("c1", "add", '{"a": 1}'), ToolCall("call_1", "sub", "{}"))


async def test_the_child_sees_only_the_environment_it_is_given(build, monkeypatch) -> None:
    monkeypatch.setenv("DESTILER_ONLY_VARIABLE", "must not leak")
    provider = build(
        """
        hello()
        for message in requests():
            result(message, json.dumps(sorted(os.environ)) + " " + os.environ.get("TOKEN", ""))
        """,
        env={"TOKEN": Secret("tok-abcdef-123")},
    )
    try:
        answer = await provider.generate(ask("env?"))
    finally:
        await provider.aclose()
    names, _, token = answer.text.rpartition(" ")
    # Python itself may add LC_CTYPE when it coerces the C locale.
    assert set(json.loads(names)) - {"LC_CTYPE"} <= {"PATH", "HOME", "LANG", "TOKEN"}
    assert "TOKEN" in json.loads(names) and token == "tok-abcdef-123"


async def test_capabilities_the_job_declares_win_over_the_handshake(build) -> None:
    provider = build("hello()\nfor m in requests(): result(m)\n", capabilities=frozenset({"reasoning"}))
    try:
        assert provider.info().capabilities == {"reasoning"}
        assert await provider.probe(ask("x")) == "test-child (protocol 1) answered as m1"
        assert provider.info().capabilities == {"reasoning"}
    finally:
        await provider.aclose()


async def test_before_the_handshake_the_provider_declares_json_schema_and_starts_nothing(build, events) -> None:
    provider = build("raise SystemExit('never started')\n")
    assert provider.info().capabilities == {"json_schema"}
    assert provider.health_details() == {"pid": None, "restarts": 0, "script": ""}
    await provider.aclose()  # nothing to stop
    assert events == []


async def test_models_fall_back_to_the_configured_model_when_the_child_names_none(build) -> None:
    provider = build("send({'type': 'hello', 'protocol': 1})\nfor m in requests(): result(m)\n", model="mine")
    try:
        assert await provider.models() == ["mine"]
        assert await provider.probe(ask("x")) == f"{sys.executable} (protocol 1) answered as mine"
    finally:
        await provider.aclose()
    nameless = build("send({'type': 'hello', 'protocol': 1})\nfor m in requests(): result(m)\n", model="")
    try:
        assert await nameless.models() == []
    finally:
        await nameless.aclose()


async def test_max_in_flight_holds_requests_back_from_the_child(build) -> None:
    provider = build(
        """
        import select
        hello()
        for message in requests():
            overlap = bool(select.select([sys.stdin], [], [], 0.2)[0])  # did another request come meanwhile?
            result(message, "overlap" if overlap else "alone")
        """,
        max_in_flight=1,
    )
    texts: list[str] = []

    async def one() -> None:
        texts.append((await provider.generate(ask("q"))).text)

    try:
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(one)
    finally:
        await provider.aclose()
    assert texts == ["alone"] * 3


async def test_a_closed_provider_refuses_requests(build) -> None:
    provider = build("hello()\nfor m in requests(): result(m)\n")
    assert (await provider.generate(ask("x"))).text == "x"
    await provider.aclose()
    await provider.aclose()  # twice is harmless
    with pytest.raises(ProviderError, match="closed") as caught:
        await provider.generate(ask("x"))
    assert caught.value.retryable is False


async def test_a_result_without_a_cost_is_priced_from_the_configured_rates(build) -> None:
    provider = build(
        """
        hello()
        for message in requests():
            cost = 0.5 if prompt(message) == "own" else None
            result(message, usage={"prompt_tokens": 1000, "completion_tokens": 200}, cost=cost)
        """,
        prompt_usd_per_million=2.0,
        completion_usd_per_million=10.0,
    )
    try:
        assert (await provider.generate(ask("priced"))).cost == pytest.approx(0.004)
        assert (await provider.generate(ask("own"))).cost == 0.5  # what the child reports wins
    finally:
        await provider.aclose()


async def test_what_the_child_says_on_stderr_as_it_shuts_down_becomes_events(build, events) -> None:
    provider = build("hello()\nfor m in requests(): result(m)\nprint('bye: stdin closed', file=sys.stderr)\n")
    assert (await provider.generate(ask("x"))).text == "x"
    await provider.aclose()
    assert [e.message for e in events if e.kind == "script_stderr"] == ["t: bye: stdin closed"]
    assert [e.kind for e in events][-1] == "script_stopped"
