"""The tools mode's loop against scripted model turns: calls, results, ids, simulator, stops and failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from destilation import Generation, GenerationRequest, Issue, Message, ProviderInfo, Task, TaskSeed, ToolCall, Usage
from destilation.config import JobSpec, ProviderSpec, structure
from destilation.errors import ConfigError
from destilation.modes import ModeContext
from destilation_templates.builtin import TOOLS
from destilation_templates.tools_config import ToolsConfig
from destilation_templates.tools_mode import ToolFailed, ToolsMode, make_tools_mode, unique_ids

HERE = Path(__file__).parent
ADD = {
    "name": "add",
    "description": "Adds two integers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    },
    "function": "tools_mode_functions:add",
}
LOOKUP = {
    "name": "lookup",
    "description": "Looks a word up.",
    "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
    "returns": {"type": "object", "properties": {"meaning": {"type": "string"}}, "required": ["meaning"]},
}
TEACHER = ProviderInfo("teacher", "scripted", "m-1")
SIMULATOR = ProviderInfo("sim", "scripted", "sim-1")


@pytest.fixture(autouse=True)
def _tool_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))


def config(**options: Any) -> ToolsConfig:
    options.setdefault("tools", [ADD])
    return structure(options, ToolsConfig, source="job.toml", path="$.mode")


def turn(text: str = "", *calls: tuple[str, str, str], tokens: int = 10) -> Generation:
    return Generation(
        text,
        "teacher",
        "m-1",
        usage=Usage(tokens, 1),
        cost=0.5,
        latency_s=1.0,
        tool_calls=tuple(ToolCall(*c) for c in calls),
    )


class Script:
    """Answers the route's requests from a list of turns and the simulator's from a function."""

    def __init__(self, turns: list[Generation], simulate: Callable[[GenerationRequest], str] | None = None) -> None:
        self.turns = turns
        self.simulate = simulate
        self.requests: list[tuple[GenerationRequest, str | None]] = []

    async def __call__(self, request: GenerationRequest, provider: str | None) -> tuple[ProviderInfo, Generation]:
        self.requests.append((request, provider))
        if provider in (None, "teacher"):
            return TEACHER, self.turns.pop(0)
        assert self.simulate is not None
        return SIMULATOR, Generation(self.simulate(request), "sim", "sim-1", usage=Usage(3, 2), cost=None)


def context(script: Script, feedback: tuple[Issue, ...] = ()) -> ModeContext:
    providers = {name: ProviderSpec(kind="scripted") for name in ("teacher", "sim")}
    spec = JobSpec(name="tools-test", template="tools", temperature=0.3, providers=providers)
    task = Task("tools-test", TaskSeed(4, axes={"request": "What is 2 plus 3?"}))
    return ModeContext(spec, TOOLS, task, 1, feedback, script, seed=99)


async def produce(mode: ToolsMode, script: Script, feedback: tuple[Issue, ...] = ()) -> tuple[dict[str, Any], Any]:
    production = await mode.produce(context(script, feedback))
    return json.loads(production.generation.text), production


@pytest.mark.anyio
async def test_a_call_runs_the_function_and_the_model_answers_with_its_result() -> None:
    from tools_mode_functions import CALLS  # type: ignore[import-not-found]

    CALLS.clear()
    script = Script([turn("", ("c1", "add", '{"a": 2, "b": 3}')), turn("2 plus 3 is 5.")])
    content, production = await produce(ToolsMode(config()), script)
    assert CALLS == [("add", {"a": 2, "b": 3})]
    assert content["messages"] == [
        {"role": "system", "content": TOOLS.system_prompt},
        {"role": "user", "content": "What is 2 plus 3?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}'}],
        },
        {"role": "tool", "content": '{"sum": 5}', "tool_call_id": "c1", "name": "add"},
        {"role": "assistant", "content": "2 plus 3 is 5."},
    ]
    assert content["tools"] == [{"name": "add", "description": "Adds two integers.", "parameters": ADD["parameters"]}]
    # every turn offered the tools, asked for free text, and carried the job's defaults
    first, second = (request for request, _ in script.requests)
    assert [t.name for t in first.tools] == ["add"] and first.response_schema is None
    assert (first.temperature, first.seed, first.attempt) == (0.3, 99, 1)
    assert second.messages[-2].tool_calls == (ToolCall("c1", "add", '{"a": 2, "b": 3}'),)
    assert second.messages[-1] == Message("tool", '{"sum": 5}', tool_call_id="c1")
    # the route picked the first turn's teacher; the conversation stays with it
    assert [provider for _, provider in script.requests] == [None, "teacher"]
    # totals over both calls; the final prompt and the teacher
    generation = production.generation
    assert (generation.usage, generation.cost, generation.latency_s) == (Usage(20, 2), 1.0, 2.0)
    assert generation.tool_calls == (ToolCall("c1", "add", '{"a": 2, "b": 3}'),)
    assert production.calls == 2 and production.provider == TEACHER and production.prompt == second.messages


@pytest.mark.anyio
async def test_functions_run_in_worker_threads_and_a_string_result_is_kept_as_it_is() -> None:
    import threading

    from tools_mode_functions import THREADS

    shout = {"name": "shout", "parameters": {"type": "object"}, "function": "tools_mode_functions:shout"}
    script = Script(
        [
            turn("", ("a", "shout", '{"text": "hi"}'), ("b", "add", '{"a": 1, "b": 1}')),
            turn("", ("c", "add", '{"a": 0, "b": 0}')),
            turn("Done."),
        ]
    )
    content, production = await produce(ToolsMode(config(tools=[ADD, shout])), script)
    tool_turns = [m for m in content["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["name"], m["content"]) for m in tool_turns] == [
        ("a", "shout", "HI"),
        ("b", "add", '{"sum": 2}'),
        ("c", "add", '{"sum": 0}'),
    ]
    assert threading.get_ident() not in THREADS and production.calls == 3


@pytest.mark.anyio
async def test_feedback_goes_to_the_teacher_but_not_into_the_sample() -> None:
    feedback = (Issue("tool_unknown", "the call names 'ad'", hint="call only the declared tools: add"),)
    script = Script([turn("Five.")])
    content, _ = await produce(ToolsMode(config()), script, feedback)
    asked = script.requests[0][0].messages
    assert [m.role for m in asked] == ["system", "user", "user"]
    assert "[tool_unknown]" in asked[-1].content
    assert [m["role"] for m in content["messages"]] == ["system", "user", "assistant"]


@pytest.mark.anyio
async def test_a_tool_without_function_is_answered_by_the_simulator() -> None:
    def simulate(request: GenerationRequest) -> str:
        return ' {"meaning": "a greeting"}\n'

    script = Script([turn("", ("x", "lookup", '{"word": "hello"}')), turn("It is a greeting.")], simulate)
    content, production = await produce(ToolsMode(config(tools=[ADD, LOOKUP], simulator="sim")), script)
    assert content["messages"][3] == {
        "role": "tool",
        "content": '{"meaning": "a greeting"}',
        "tool_call_id": "x",
        "name": "lookup",
    }
    simulated, provider = script.requests[1]
    assert provider == "sim" and simulated.tools == ()
    assert simulated.response_schema == LOOKUP["returns"] and not simulated.reasoning
    assert "'lookup'" in simulated.messages[0].content and "Looks a word up." in simulated.messages[0].content
    assert "What is 2 plus 3?" in simulated.messages[1].content and '{"word": "hello"}' in simulated.messages[1].content
    # the simulator's call counts in the attempt's totals; its missing cost stays unknown, not zero
    assert production.calls == 3 and production.generation.usage == Usage(23, 4)
    assert production.generation.cost == 1.0


@pytest.mark.anyio
@pytest.mark.parametrize(
    "call",
    [("u", "subtract", '{"a": 1, "b": 2}'), ("u", "add", '{"a": "one", "b": 2}'), ("u", "add", "{not json")],
    ids=["unknown-tool", "misfit-arguments", "not-json"],
)
async def test_a_call_that_cannot_run_ends_the_loop_there(call: tuple[str, str, str]) -> None:
    from tools_mode_functions import CALLS

    CALLS.clear()
    script = Script([turn("", ("ok", "add", '{"a": 1, "b": 2}'), call), turn("never asked")])
    content, production = await produce(ToolsMode(config()), script)
    assert CALLS == [] and production.calls == 1 and len(script.turns) == 1
    assert content["messages"][-1]["tool_calls"][1]["name"] == call[1]


@pytest.mark.anyio
async def test_max_turns_ends_a_conversation_that_keeps_calling() -> None:
    script = Script([turn("", ("k", "add", '{"a": 1, "b": 1}')) for _ in range(3)])
    content, production = await produce(ToolsMode(config(max_turns=2)), script)
    assert production.calls == 2 and len(script.turns) == 1
    assert content["messages"][-1]["role"] == "tool"
    ids = [m["tool_calls"][0]["id"] for m in content["messages"] if m.get("tool_calls")]
    assert ids == ["k", "call_1_0"]  # the repeated id got a fresh one, so results stay unambiguous


def test_unique_ids_replace_empty_and_repeated_ids() -> None:
    used = {"call_2_0"}
    calls = (ToolCall("", "a", "{}"), ToolCall("x", "a", "{}"), ToolCall("x", "a", "{}"))
    assert [c.id for c in unique_ids(calls, used, 2)] == ["call_2_0_", "x", "call_2_2"]
    assert used == {"call_2_0", "call_2_0_", "x", "call_2_2"}


@pytest.mark.anyio
async def test_a_reasoning_trace_is_kept_on_its_turn() -> None:
    script = Script([Generation("Five.", "teacher", "m-1", reasoning="2+3=5")])
    content, _ = await produce(ToolsMode(config()), script)
    assert content["messages"][-1] == {"role": "assistant", "content": "Five.", "reasoning": "2+3=5"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("explode", "tool 'boom' (tools_mode_functions:explode) failed on {}: RuntimeError: the service is down"),
        ("not_json", "tool 'boom' (tools_mode_functions:not_json) returned a set, which is not JSON"),
    ],
)
async def test_a_failing_tool_function_stops_the_job_with_one_line(function: str, message: str) -> None:
    boom = {"name": "boom", "function": f"tools_mode_functions:{function}"}
    script = Script([turn("", ("b", "boom", "{}"))])
    with pytest.raises(ToolFailed) as failed:
        await produce(ToolsMode(config(tools=[boom])), script)
    assert str(failed.value).startswith(message) and "\n" not in str(failed.value)


@pytest.mark.anyio
async def test_long_arguments_are_cut_in_the_failure_line() -> None:
    boom = {"name": "boom", "function": "tools_mode_functions:explode"}
    long = json.dumps({"text": "x" * 500})
    with pytest.raises(ToolFailed) as failed:
        await produce(ToolsMode(config(tools=[boom])), Script([turn("", ("b", "boom", long))]))
    assert f"failed on {long[:200]}…: RuntimeError" in str(failed.value)


def test_the_factory_builds_the_mode_and_refuses_a_missing_table() -> None:
    mode = make_tools_mode(config(), None)  # type: ignore[arg-type]
    assert mode.name == "tools" and [v.name for v in mode.validators()] == ["tool_rules"]
    with pytest.raises(ConfigError, match=r"\$\.mode\.tools: the tools mode needs a \[mode\] table"):
        make_tools_mode(None, None)  # type: ignore[arg-type]


def test_a_simulator_the_job_lacks_is_named_by_check_job() -> None:
    mode = ToolsMode(config(tools=[LOOKUP], simulator="oracle"))
    spec = context(Script([])).spec
    with pytest.raises(ConfigError) as refused:
        mode.check_job(spec, "job.toml")
    assert str(refused.value) == "job.toml: $.mode.simulator: no provider named 'oracle' (the job has teacher, sim)"
    with pytest.raises(ConfigError, match=r"\(the job has none\)"):
        mode.check_job(JobSpec(name="bare"), "job.toml")
    ToolsMode(config(tools=[LOOKUP], simulator="sim")).check_job(spec, "job.toml")
    ToolsMode(config()).check_job(JobSpec(name="bare"), "job.toml")  # no simulator: nothing to check
