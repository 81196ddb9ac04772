"""examples/tools.toml as a user runs it: exactly its count of tool-use conversations, each keeping
every rule, also when the mock breaks turns on purpose; exports keep the tool calls."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest

from destilation import Candidate, Generation, Task, TaskSeed
from destilation_templates.builtin import TOOLS
from destilation_templates.tool_rules import ToolRules

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tools.toml"
RULE_CODES = {"tool_unknown", "tool_arguments", "tool_no_result", "tool_no_answer"}


@pytest.fixture
def at_root(destiler: Any) -> Any:
    """`destiler` started from the repository root, as the example says, with its data in tmp_path."""
    destiler.workdir = ROOT  # examples.tools_demo imports from the directory destiler runs in
    return destiler


def declared_tools() -> dict[str, Any]:
    import tomllib

    spec = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return {tool["name"]: tool["parameters"] for tool in spec["mode"]["tools"]}


def assert_keeps_every_rule(lines: list[dict[str, Any]], tools: dict[str, Any] | None = None) -> None:
    rules = ToolRules(declared_tools() if tools is None else tools)
    schema = jsonschema.validators.validator_for(TOOLS.schema)(TOOLS.schema)
    for line in lines:
        content = {"messages": line["messages"], "tools": line["tools"]}
        schema.validate(content)
        candidate = Candidate(Task("t", TaskSeed(0)), Generation(json.dumps(content), "p", "m"), content)
        verdict = anyio.run(rules.check, candidate, None)
        assert verdict.ok, verdict.issues
        assert line["tool_calls"] == [c for m in line["messages"] for c in m.get("tool_calls", [])]


def broken_job(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('name = "tools-demo"', 'name = "tools-broken"').replace(
        "tool_breakage = 0.0", "tool_breakage = 0.3"
    )
    assert "tool_breakage = 0.3" in text
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_delivers_its_count_of_valid_conversations(at_root: Any) -> None:
    result = at_root("run", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "24/24 samples accepted" in result.stdout
    lines = at_root.lines("tools-demo")
    assert len(lines) == 24 and len({line["meta"]["content_hash"] for line in lines}) == 24
    assert_keeps_every_rule(lines)
    called = {call["name"] for line in lines for m in line["messages"] for call in m.get("tool_calls", [])}
    assert called == {"weather", "local_time", "currency"}  # functions and the simulated tool
    results = [m for line in lines for m in line["messages"] if m["role"] == "tool" and m["name"] == "weather"]
    assert results and all(json.loads(m["content"])["conditions"] for m in results)  # the real function ran


def test_with_breakage_no_broken_sample_gets_in_and_rejections_name_the_rule(at_root: Any, tmp_path: Path) -> None:
    result = at_root("run", str(broken_job(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "24/24 samples accepted" in result.stdout
    lines = at_root.lines("tools-broken")
    assert len(lines) == 24
    assert_keeps_every_rule(lines)
    retried = [line for line in lines if line["meta"]["attempts"] > 1]
    assert retried  # broken turns were caught and tried again
    rejected = at_root.json("tasks", "tools-broken", "--state", "rejected")
    assert isinstance(rejected, list)
    for task in rejected:
        assert {reason["code"] for reason in task["reasons"]} <= RULE_CODES


def export(runner: Any, fmt: str) -> list[dict[str, Any]]:
    out = runner.data_dir / f"tools.{fmt}.jsonl"
    result = runner("export", "tools-demo", "--format", fmt, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def assert_chat_keeps_calls(messages: list[dict[str, Any]]) -> None:
    calls = [c for m in messages for c in (m.get("tool_calls") or [])]
    results = [m for m in messages if m["role"] == "tool"]
    assert calls and [c["id"] for c in calls] == [m["tool_call_id"] for m in results]
    for call in calls:
        assert call["type"] == "function" and isinstance(call["function"]["arguments"], str)
        json.loads(call["function"]["arguments"])  # still the JSON text the model sent


def test_exports_keep_the_tool_calls(at_root: Any) -> None:
    assert at_root("run", str(EXAMPLE)).returncode == 0
    names = ["weather", "local_time", "currency"]
    for fmt in ("openai-chat", "trl-messages"):
        rows = export(at_root, fmt)
        assert len(rows) == 24
        for row in rows:
            assert [t["function"]["name"] for t in row["tools"]] == names
            roles = [m["role"] for m in row["messages"]]
            assert roles[:2] == ["system", "user"] and roles[-1] == "assistant" and "tool" in roles
            assert_chat_keeps_calls(row["messages"])
    for row in export(at_root, "trl-prompt-completion"):
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["completion"][-1]["role"] == "assistant"
        assert_chat_keeps_calls(row["completion"])
    for row in export(at_root, "sharegpt"):
        turns = [t["from"] for t in row["conversations"]]
        assert turns[0] == "human" and "function_call" in turns and "observation" in turns and turns[-1] == "gpt"
        assert [t["name"] for t in json.loads(row["tools"])] == names


class ToolServer(http.server.ThreadingHTTPServer):
    """An OpenAI-compatible chat endpoint that calls `weather` first and answers once it has the result."""

    bodies: list[dict[str, Any]]


class ToolHandler(http.server.BaseHTTPRequestHandler):
    server: ToolServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        messages = body["messages"]
        results = [m for m in messages if m["role"] == "tool"]
        city = messages[1]["content"].split(" in ")[-1].rstrip("?")
        if results:
            message: dict[str, Any] = {"role": "assistant", "content": f"In {city}: {results[-1]['content']}"}
            finish = "stop"
        else:
            arguments = json.dumps({"city": city})
            call = {"id": f"call_{len(self.server.bodies)}", "type": "function"}
            call["function"] = {"name": "weather", "arguments": arguments}
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        answer = {
            "id": "x",
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def tool_server() -> Any:
    server = ToolServer(("127.0.0.1", 0), ToolHandler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_loop_speaks_openai_tool_calls_over_http(
    at_root: Any, tool_server: ToolServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from examples.tools_demo import weather  # type: ignore[import-not-found]

    port = tool_server.server_address[1]
    job = tmp_path / "http.toml"
    job.write_text(
        'name = "tools-http"\ntemplate = "tools"\ncount = 3\nmax_attempts = 1\n'
        '[axes]\nrequest = ["Weather in Oslo?", "Weather in Lima?", "Weather in Perth?"]\n'
        '[[mode.tools]]\nname = "weather"\nfunction = "examples.tools_demo:weather"\n'
        'parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }\n'
        f'[providers.local]\nkind = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:{port}/v1"\n',
        encoding="utf-8",
    )
    result = at_root("run", str(job))
    assert result.returncode == 0, result.stderr
    lines = at_root.lines("tools-http")
    assert len(lines) == 3
    assert_keeps_every_rule(lines, {"weather": {"type": "object"}})
    for line in lines:
        ask, result_turn, answer = line["messages"][2:]
        city = json.loads(ask["tool_calls"][0]["arguments"])["city"]
        assert json.loads(result_turn["content"]) == weather(city)
        assert answer["content"].startswith(f"In {city}: ")
    # what went over the wire: the tools offered, then the call and its result sent back
    follow_up = next(body for body in tool_server.bodies if any(m["role"] == "tool" for m in body["messages"]))
    assert [t["function"]["name"] for t in follow_up["tools"]] == ["weather"]
    asked, tool = follow_up["messages"][-2:]
    assert asked["tool_calls"][0]["function"]["arguments"] == json.dumps({"city": asked_city(follow_up)})
    assert tool["tool_call_id"] == asked["tool_calls"][0]["id"]
    assert "response_format" not in follow_up


def asked_city(body: dict[str, Any]) -> str:
    return str(body["messages"][1]["content"].split(" in ")[-1].rstrip("?"))


def test_a_tool_function_that_raises_stops_the_job_with_one_line(destiler: Any) -> None:
    (destiler.workdir / "flaky_tools.py").write_text(
        "def weather(city):\n    raise ConnectionError('weather service unreachable')\n", encoding="utf-8"
    )
    job = destiler.workdir / "flaky.toml"
    job.write_text(
        'name = "tools-flaky"\ntemplate = "tools"\ncount = 2\n[axes]\nrequest = ["Weather in Oslo?"]\n'
        '[[mode.tools]]\nname = "weather"\nfunction = "flaky_tools:weather"\n'
        'parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }\n'
        '[providers.teacher]\nkind = "mock"\n',
        encoding="utf-8",
    )
    result = destiler("run", str(job))
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.strip().splitlines() if "tools-flaky" in line or "error" in line]
    assert "tool 'weather' (flaky_tools:weather) failed on {" in line
    assert "ConnectionError: weather service unreachable" in line and "Traceback" not in result.stderr
