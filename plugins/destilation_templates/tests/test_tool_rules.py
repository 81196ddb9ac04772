"""The tools mode's validator: each rule of a tool-use conversation, by its issue code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import Candidate, Generation, Task, TaskSeed, ToolCall
from destilation_templates.tool_rules import ToolRules, parse_arguments

RULES = ToolRules(
    {
        "add": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
        "now": {"type": "object"},
    }
)
USER = {"role": "user", "content": "What is 1 plus 2?"}


def call(name: str = "add", arguments: Any = '{"a": 1, "b": 2}', id: str = "c1") -> dict[str, Any]:
    return {"id": id, "name": name, "arguments": arguments}


def asks(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": list(calls)}


def result(id: str = "c1", content: str = '{"sum": 3}') -> dict[str, Any]:
    return {"role": "tool", "content": content, "tool_call_id": id, "name": "add"}


ANSWER = {"role": "assistant", "content": "1 plus 2 is 3."}


async def check(content: Any, *, parsed: bool = True) -> list[tuple[str, str]]:
    task = Task("job", TaskSeed(0))
    text = json.dumps(content)
    candidate = (
        Candidate(task, Generation(text, "p", "m"), content) if parsed else Candidate(task, Generation(text, "p", "m"))
    )
    verdict = await RULES.check(candidate, None)  # type: ignore[arg-type]
    if verdict.ok:
        assert verdict.content == content
    for issue in verdict.issues:
        assert issue.hint  # every rule tells the model how to do better
    return [(issue.code, issue.path) for issue in verdict.issues]


def conversation(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [USER, *messages], "tools": []}


@pytest.mark.anyio
async def test_a_complete_conversation_passes() -> None:
    assert await check(conversation(asks(call()), result(), ANSWER)) == []
    assert await check(conversation(ANSWER)) == []  # answering without a tool is allowed
    two = asks(call(id="x"), call("now", "{}", id="y"))
    assert await check(conversation(two, result("x"), result("y"), ANSWER), parsed=False) == []


@pytest.mark.anyio
async def test_an_unknown_tool() -> None:
    issues = await check(conversation(asks(call("subtract")), result(), ANSWER))
    assert issues == [("tool_unknown", "$.messages[1].tool_calls[0].name")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "arguments", ['{"a": 1}', '{"a": "1", "b": 2}', "[1, 2]", "{oops", '{"a": NaN, "b": 1}', {"a": 1}]
)
async def test_arguments_that_do_not_fit(arguments: Any) -> None:
    issues = await check(conversation(asks(call(arguments=arguments)), result(), ANSWER))
    assert issues == [("tool_arguments", "$.messages[1].tool_calls[0].arguments")]


@pytest.mark.anyio
async def test_arguments_stored_as_an_object_are_read_as_one() -> None:
    assert await check(conversation(asks(call(arguments={"a": 1, "b": 2})), result(), ANSWER)) == []


@pytest.mark.anyio
async def test_a_call_without_its_result_and_a_result_without_its_call() -> None:
    issues = await check(conversation(asks(call(id="c1")), result("c9"), ANSWER))
    assert issues == [
        ("tool_no_result", "$.messages[2].tool_call_id"),
        ("tool_no_result", "$.messages[1].tool_calls[0].id"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "ending",
    [
        [asks(call()), result()],  # ends on a tool result
        [asks(call()), result(), {"role": "assistant", "content": "  "}],  # an empty answer
        [asks(call()), result(), {"role": "user", "content": "thanks"}],
    ],
    ids=["tool-last", "empty-answer", "user-last"],
)
async def test_no_final_answer(ending: list[dict[str, Any]]) -> None:
    issues = await check(conversation(*ending))
    assert issues == [("tool_no_answer", f"$.messages[{len(ending)}]")]


@pytest.mark.anyio
async def test_calling_again_after_the_results_is_no_answer() -> None:
    issues = await check(conversation(asks(call()), result(), asks(call(id="c2"))))
    assert ("tool_no_answer", "$.messages[3]") in issues and (
        "tool_no_result",
        "$.messages[3].tool_calls[0].id",
    ) in issues


@pytest.mark.anyio
async def test_a_stopped_loop_reports_the_broken_call_only() -> None:
    # the mode stops at a turn with a call it cannot run: the missing results and answer follow from it
    issues = await check(conversation(asks(call(id="ok"), call("nope", id="bad"))))
    assert issues == [("tool_unknown", "$.messages[1].tool_calls[1].name")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    [None, [], {"messages": "hi"}, {"messages": ["hi"]}, {"tools": []}],
    ids=["null", "list", "text", "strings", "no-messages"],
)
async def test_content_that_is_no_conversation(content: Any) -> None:
    assert await check(content) == [("tool_conversation", "$")]


@pytest.mark.anyio
async def test_unparseable_text_is_no_conversation() -> None:
    candidate = Candidate(Task("job", TaskSeed(0)), Generation("{not json", "p", "m"))
    verdict = await RULES.check(candidate, None)  # type: ignore[arg-type]
    assert [i.code for i in verdict.issues] == ["tool_conversation"]


@pytest.mark.anyio
async def test_odd_shapes_are_issues_not_crashes() -> None:
    weird = {"role": "assistant", "content": "", "tool_calls": "add"}  # not a list: no calls
    assert await check(conversation(weird)) == [("tool_no_answer", "$.messages[1]")]
    issues = await check(conversation(asks("add"), ANSWER))  # type: ignore[arg-type]
    assert issues == [("tool_unknown", "$.messages[1].tool_calls[0].name")]
    assert await check({"messages": []}) == [("tool_no_answer", "$.messages")]


def test_runnable_and_argument_problem() -> None:
    assert RULES.runnable(ToolCall("1", "add", '{"a": 1, "b": 2}'))
    assert not RULES.runnable(ToolCall("1", "mul", "{}"))
    assert RULES.argument_problem(ToolCall("1", "add", '{"a": 1}')) == (
        "the arguments of 'add' do not fit its parameters schema: 'b' is a required property"
    )
    assert RULES.argument_problem(ToolCall("1", "add", '{"a": 1, "b": "2"}')) == (
        "the arguments of 'add' do not fit its parameters schema at $.b: '2' is not of type 'integer'"
    )


@given(st.text(max_size=60))
def test_any_arguments_text_is_either_runnable_or_a_stated_problem(text: str) -> None:
    problem = RULES.argument_problem(ToolCall("1", "now", text))
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    fits = isinstance(parsed, dict) and all(v == v for v in parsed.values())  # NaN is not JSON
    assert (problem is None) == fits
    if problem is not None:
        assert problem.startswith("the arguments of 'now' ") and "\n" not in problem


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4))
def test_parse_arguments_round_trips_objects(value: dict[str, Any]) -> None:
    assert parse_arguments(json.dumps(value)) == value
