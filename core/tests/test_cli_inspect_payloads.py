"""`destiler inspect` on attempts that kept their payload: prompt, raw answer, feedback, numbers."""

from __future__ import annotations

import json

import anyio
from click.testing import CliRunner

from destilation import Accept, Attempt, AttemptPayload, Issue, Message, Retry, Sample, TaskSeed, Usage
from destilation.cli.inspect import last_turns
from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation.testing import TestingKit

PROMPT = (Message("system", "You write questions."), Message("user", "Write question 0 about tides."))
ISSUE = Issue("invalid_json", "the answer is not JSON", hint="answer with JSON only")
FEEDBACK = Message("user", "Your previous answer was rejected:\n- [invalid_json] at $: the answer is not JSON")


def inspect(*args: str) -> tuple[int, str]:
    kit = TestingKit()
    store = kit.store("memory://")

    async def fill() -> None:
        await store.create_job("job", {}, 1)
        await store.add_tasks("job", [TaskSeed(0, {"topic": "tides"})])
        (task,) = await store.claim("job", "me", 1, 30.0)
        failed = Attempt(
            1,
            "teacher",
            "m",
            ok=False,
            latency_s=0.25,
            usage=Usage(12, 3),
            cost=0.0015,
            issues=(ISSUE,),
            payload=AttemptPayload(PROMPT, "not json\nat all", reasoning="thinking hard"),
        )
        await store.commit("me", [Retry(task, failed)])
        answer = {"question": "q", "answer": "a"}
        second = Attempt(2, "teacher", "m", ok=True, payload=AttemptPayload((*PROMPT, FEEDBACK), json.dumps(answer)))
        sample = Sample("job", 0, answer, "h", "t", "1", "teacher", "m", 2, messages=(*PROMPT, FEEDBACK))
        await store.commit("me", [Accept(task, second, sample)])

    anyio.run(fill)
    cli = make_cli(make_plugin_manager(load=False, extra=[kit]))
    result = CliRunner().invoke(cli, ["--db", "memory://", "inspect", "job/0", *args])
    return result.exit_code, result.output


def test_each_attempt_shows_its_numbers_verdict_prompt_and_raw_answer() -> None:
    code, output = inspect()
    assert code == 0, output
    assert (
        "  attempt 1 on teacher/m: failed, 0.25s, 12+3 tokens, $0.001500\n"
        "    - [invalid_json] at $: the answer is not JSON (hint: answer with JSON only)\n"
        "    prompt (last turns; --full for all):\n"
        "      [user]\n"
        "        Write question 0 about tides.\n"
        "    reasoning:\n"
        "      thinking hard\n"
        "    response:\n"
        "      not json\n"
        "      at all\n"
    ) in output
    assert "You write questions." not in output
    # The second attempt's prompt ends with the feedback the first one earned.
    second = output.split("  attempt 2 on teacher/m: ok")[1]
    assert "[user]\n        Your previous answer was rejected:\n        - [invalid_json]" in second
    assert '      {"question": "q", "answer": "a"}\n' in second


def test_full_shows_every_message() -> None:
    code, output = inspect("--full")
    assert code == 0, output
    assert "    prompt:\n      [system]\n        You write questions.\n      [user]\n" in output


def test_json_carries_the_payloads() -> None:
    code, output = inspect("--json")
    assert code == 0, output
    data = json.loads(output)
    first, second = data["attempt_log"]
    assert first["payload"]["response"] == "not json\nat all"
    assert [m["role"] for m in second["payload"]["prompt"]] == ["system", "user", "user"]
    assert data["sample"]["meta"]["messages"][-1]["content"].startswith("Your previous answer")


def test_last_turns_start_at_the_last_user_message() -> None:
    assistant = Message("assistant", "a")
    assert last_turns((*PROMPT, assistant)) == (PROMPT[1], assistant)
    assert last_turns((assistant,)) == (assistant,)
