"""Lineage on dataset lines and attempt payloads, through real jobs on the testing kit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import Generation, GenerationRequest, JobState, Message, Sample, TaskSeed, ToolCall
from destilation.app import App
from destilation.config import JobSpec, Settings, structure
from destilation.domain import message_from_record, message_record
from destilation.errors import ConfigError
from destilation.payloads import FIELD_LIMIT, bound, digest_messages, keeps, make_payload, safe_messages, split_preamble
from destilation.plugins import make_plugin_manager
from destilation.secrets import Secret
from destilation.testing import TestingKit, job_table, qa_answer
from destilation.testing.kit import QA


def kit_app(kit: TestingKit, tmp_path: Path) -> App:
    return App(
        make_plugin_manager(load=False, extra=[kit]), Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path)
    )


async def run(kit: TestingKit, tmp_path: Path, table: dict[str, Any]) -> None:
    spec = structure(table, JobSpec, source="job.toml")
    outcome = await kit_app(kit, tmp_path).run(spec, table, "job.toml", resume=False, handle_signals=False)
    assert outcome.state is JobState.DONE, outcome.message


def every_other_first_attempt_fails(request: GenerationRequest) -> Any:
    """Odd tasks answer garbage at their first attempt, so some tasks take two attempts."""
    index = int(next(m.content for m in request.messages if m.role == "user").split()[2])
    if request.attempt == 1 and index % 2:
        return "not json"
    return qa_answer(request)


LINEAGE = {"mode", "latency_s", "input", "messages", "preamble"}


@pytest.mark.anyio
async def test_every_line_carries_every_key_and_the_lineage_of_its_sample(tmp_path: Path) -> None:
    kit = TestingKit(default_script=every_other_first_attempt_fails)
    await run(kit, tmp_path, job_table(count=6))
    records = kit.dataset("job").records()
    assert len(records) == 6
    assert len({json.dumps(sorted(r)) for r in records}) == 1
    assert len({json.dumps(sorted(r["meta"])) for r in records}) == 1
    for record in records:
        meta = record["meta"]
        assert set(meta) >= LINEAGE
        assert meta["mode"] == "testing.single"
        assert meta["input"] == {"axes": {"topic": meta["input"]["axes"]["topic"]}, "row": None}
        assert meta["input"]["axes"]["topic"] in ("tides", "bees")
        # The template's system prompt is named by digest, not repeated on every line.
        assert meta["preamble"] == digest_messages(QA.preamble)
        roles = [m["role"] for m in meta["messages"]]
        assert roles[0] == "user"
        assert meta["messages"][0]["content"] == record["question"]
        # The accepted attempt's prompt: a retried task's carries the first attempt's feedback.
        assert (len(roles) == 2) == (meta["attempts"] == 2)
        assert all(set(m) == {"role", "content"} for m in meta["messages"])


@pytest.mark.anyio
@pytest.mark.parametrize(("keep", "kept"), [("all", [True, True]), ("failed", [True, False]), ("none", [False, False])])
async def test_keep_attempts_says_which_attempts_keep_their_payload(
    tmp_path: Path, keep: str, kept: list[bool]
) -> None:
    kit = TestingKit(default_script=every_other_first_attempt_fails)
    await run(kit, tmp_path, job_table(count=2, keep_attempts=keep))
    detail = await kit.store().get_task("job", 1)
    assert detail is not None and [a.number for a in detail.attempts] == [1, 2]
    first, second = detail.attempts
    assert [a.payload is not None for a in detail.attempts] == kept
    if first.payload is not None:
        assert first.payload.response == "not json"
        assert first.payload.feedback == ()
        assert first.payload.prompt[-1].content.startswith("Write question 1 about ")
    if second.payload is not None:
        assert second.payload.feedback == first.issues
        assert "[invalid_json]" in second.payload.prompt[-1].content
        assert json.loads(second.payload.response) == detail.sample.content  # type: ignore[union-attr]


def test_the_default_keeps_failed_attempts_and_a_bad_value_is_one_line() -> None:
    assert structure({"name": "j"}, JobSpec, source="job.toml").keep_attempts == "failed"
    with pytest.raises(ConfigError) as caught:
        structure({"name": "j", "keep_attempts": "some"}, JobSpec, source="job.toml")
    assert "keep_attempts" in str(caught.value) and "\n" not in str(caught.value)


def test_keeps() -> None:
    assert [keeps("all", ok) for ok in (True, False)] == [True, True]
    assert [keeps("failed", ok) for ok in (True, False)] == [False, True]
    assert [keeps("none", ok) for ok in (True, False)] == [False, False]


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_a_bounded_text_fits_and_starts_like_the_original(text: str, limit: int) -> None:
    out = bound(text, limit)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= limit:
        assert out == text
    else:
        head, _, marker = out.rpartition("…[")
        assert text.startswith(head)
        assert marker == f"{size - len(head.encode('utf-8', 'surrogatepass'))} bytes cut]"
        assert len(out.encode("utf-8", "surrogatepass")) <= max(limit, 48)


def test_payload_fields_are_cut_at_64_kib_and_lose_their_secrets() -> None:
    key = Secret("sk-live-abcdefghijklmnop0123456789")
    huge = "x" * (FIELD_LIMIT * 2)
    prompt = (
        Message("user", f"use {key.reveal()} please"),
        Message("assistant", huge, reasoning=huge, tool_calls=(ToolCall("c", "f", huge),)),
    )
    payload = make_payload(prompt, Generation(huge, "p", "m", reasoning=f"token: {key.reveal()}"))
    assert key.reveal() not in json.dumps([m.content for m in payload.prompt]) + (payload.reasoning or "")
    for text in (
        payload.response,
        payload.prompt[1].content,
        payload.prompt[1].reasoning or "",
        payload.prompt[1].tool_calls[0].arguments,
    ):
        assert len(text.encode()) <= FIELD_LIMIT
        assert text.endswith(" bytes cut]")
    assert make_payload((), Generation("{}", "p", "m")).reasoning is None
    assert safe_messages((Message("user", "hi"),)) == (Message("user", "hi"),)


def test_messages_round_trip_through_their_records() -> None:
    full = Message("assistant", "a", reasoning="r", tool_calls=(ToolCall("1", "f", "{}"),), tool_call_id="t")
    for message in (Message("user", "q"), full):
        assert message_from_record(message_record(message)) == message
    assert message_record(Message("user", "q")) == {"role": "user", "content": "q"}


def test_a_sample_without_lineage_still_has_every_key() -> None:
    bare = Sample("j", 0, {"answer": "a"}, "h", "t", "1", "p", "m", 1).record()["meta"]
    assert {k: bare[k] for k in LINEAGE} == {
        "mode": None,
        "latency_s": 0.0,
        "input": {"axes": None, "row": None},
        "messages": [],
        "preamble": None,
    }
    rowed = Sample("j", 0, {}, "h", "t", "1", "p", "m", 1, seed=TaskSeed(0, row={"q": 1})).record()["meta"]
    assert rowed["input"] == {"axes": None, "row": {"q": 1}}


def test_a_prompt_keeps_its_preamble_unless_it_starts_with_it() -> None:
    system, user = Message("system", "s"), Message("user", "u")
    assert split_preamble((system, user), (system,)) == ((user,), digest_messages((system,)))
    assert split_preamble((user,), (system,)) == ((user,), None)
    assert split_preamble((system, user), ()) == ((system, user), None)
    assert digest_messages((system,)) != digest_messages((user,))
    assert digest_messages((system,)).startswith("sha256:") and len(digest_messages(())) == 23


def test_a_remembered_prompt_text_still_loses_a_secret_known_after_it() -> None:
    text = "connect with pass-word-0123456789 today"
    assert safe_messages((Message("user", text),))[0].content == text
    Secret("pass-word-0123456789")
    assert safe_messages((Message("user", text),))[0].content == "connect with *** today"
