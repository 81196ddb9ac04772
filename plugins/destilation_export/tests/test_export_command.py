"""`destiler export` on real jobs: each format's JSON shape, loaded back with the real `datasets`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from export_support import Workspace

from destilation_export import command

datasets = pytest.importorskip("datasets")


def export(workspace: Workspace, job: str, fmt: str, *extra: str) -> tuple[list[dict[str, Any]], Path, str]:
    out = workspace.root / f"{job}-{fmt}-{len(extra)}.jsonl"
    result = workspace.destiler("export", job, "--format", fmt, "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, out, result.output


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path: Path) -> Any:
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(path.parent / "hf"))


def test_the_plugin_adds_the_export_command(workspace: Workspace) -> None:
    result = workspace.destiler("--help")
    assert "export" in result.output


def test_openai_chat_has_messages_and_tools(workspace: Workspace) -> None:
    rows, path, output = export(workspace, "qa", "openai-chat")
    assert len(rows) == 6
    assert output.strip() == f"exported 6 samples of job qa as openai-chat to {path}"
    assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    user, assistant = rows[0]["messages"]
    assert (user["role"], assistant["role"]) == ("user", "assistant")
    assert set(user) == set(assistant) == {"role", "content", "tool_calls", "tool_call_id"}
    assert user["content"] and assistant["content"]
    assert rows[0]["tools"] == []
    assert load(path).num_rows == 6


@pytest.mark.parametrize("field", ["reasoning_content", "thinking"])
def test_trl_messages_puts_reasoning_in_the_chosen_field(workspace: Workspace, field: str) -> None:
    rows, path, _ = export(workspace, "think", "trl-messages", "--reasoning-field", field)
    assert len(rows) == 4
    user, assistant = rows[0]["messages"]
    assert user[field] == ""
    assert isinstance(assistant[field], str) and assistant[field]
    assert not assistant["content"].startswith("<think>")
    loaded = load(path)
    assert loaded.features["messages"].feature[field].dtype == "string"
    assert loaded[0]["messages"][1][field] == assistant[field]


def test_think_tags_put_reasoning_before_the_answer(workspace: Workspace) -> None:
    rows, path, _ = export(workspace, "think", "trl-messages", "--reasoning-field", "think-tags")
    assistant = rows[0]["messages"][1]
    assert "reasoning_content" not in assistant
    assert assistant["content"].startswith("<think>\n") and "\n</think>\n\n" in assistant["content"]
    assert load(path).num_rows == 4


def test_trl_prompt_completion_splits_at_the_last_user_turn(workspace: Workspace) -> None:
    rows, path, _ = export(workspace, "think", "trl-prompt-completion")
    assert [m["role"] for m in rows[0]["prompt"]] == ["user"]
    assert [m["role"] for m in rows[0]["completion"]] == ["assistant"]
    assert rows[0]["completion"][0]["reasoning_content"]
    assert load(path).num_rows == 4


def test_sharegpt_turns_and_think_tags(workspace: Workspace) -> None:
    rows, path, _ = export(workspace, "think", "sharegpt")
    human, gpt = rows[0]["conversations"]
    assert human["from"] == "human" and gpt["from"] == "gpt"
    assert gpt["value"].startswith("<think>\n")
    assert (rows[0]["system"], rows[0]["tools"]) == ("", "")
    assert load(path).num_rows == 4


def test_alpaca_instruction_and_output(workspace: Workspace) -> None:
    rows, path, _ = export(workspace, "qa", "alpaca")
    assert set(rows[0]) == {"instruction", "input", "output", "system", "history"}
    assert rows[0]["instruction"] and rows[0]["output"] and rows[0]["history"] == []
    assert load(path).num_rows == 6


def test_pages_are_read_one_after_another(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "PAGE", 4)
    monkeypatch.setattr(command, "PROGRESS_EVERY", 5)
    rows, _, output = export(workspace, "qa", "openai-chat")
    assert len(rows) == 6
    assert len({json.dumps(r) for r in rows}) == 6
    assert "exported 5 of 6 samples…" in output


def test_dpo_says_there_is_nothing_to_pair_when_the_job_kept_no_attempt(workspace: Workspace) -> None:
    out = workspace.root / "dpo.jsonl"
    result = workspace.destiler("export", "unkept", "--format", "dpo", "-o", str(out))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: --format dpo: job 'unkept' has nothing to pair")
    assert 'keep_attempts = "none"' in line
    assert not out.exists()


def test_dpo_pairs_the_accepted_answer_with_the_first_failed_one(workspace: Workspace) -> None:
    rows, path, output = export(workspace, "pairs", "dpo")
    samples = [json.loads(line) for line in (workspace.root / "data" / "pairs" / "data.jsonl").read_text().splitlines()]
    retried = [s for s in samples if s["meta"]["attempts"] > 1]
    assert retried and len(rows) == len(retried) < len(samples)
    assert output.strip() == f"exported {len(rows)} pairs of job pairs as dpo to {path}"
    for row in rows:
        assert set(row) == {"prompt", "chosen", "rejected"}
        assert [m["role"] for m in row["prompt"]][-1] == "user"
        assert all(set(m) == {"role", "content"} for m in [*row["prompt"], *row["chosen"], *row["rejected"]])
        assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
        # The first failure's prompt: no feedback of an earlier attempt in it.
        assert "previous" not in row["prompt"][-1]["content"].lower()
    chosen = {json.loads(r["chosen"][0]["content"])["question"] for r in rows}
    assert chosen == {s["question"] for s in retried}
    loaded = load(path)
    assert loaded.num_rows == len(rows)
    assert loaded[0]["rejected"][0]["content"] == rows[0]["rejected"][0]["content"]


def test_a_job_without_failures_exports_no_pairs(workspace: Workspace) -> None:
    rows, path, output = export(workspace, "qa", "dpo")
    assert rows == []
    assert output.strip() == f"exported 0 pairs of job qa as dpo to {path}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "nope", "--format", "alpaca"], "error: no job named 'nope'"),
        (["export", "qa", "--format", "csv"], "error: --format: unknown format 'csv': use one of openai-chat,"),
    ],
)
def test_unknown_job_or_format_is_one_line_and_exit_2(workspace: Workspace, args: list[str], message: str) -> None:
    result = workspace.destiler(*args, "-o", str(workspace.root / "never.jsonl"))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(message)
    assert not (workspace.root / "never.jsonl").exists()


def test_a_missing_output_folder_is_bad_input(workspace: Workspace) -> None:
    out = workspace.root / "no-such-folder" / "x.jsonl"
    result = workspace.destiler("export", "qa", "--format", "alpaca", "-o", str(out))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: -o: {out}: the folder {out.parent} does not exist"]


def test_a_failed_export_leaves_the_old_file_and_no_temporary(workspace: Workspace) -> None:
    folder = workspace.root / "atomic"
    folder.mkdir()
    out = folder / "qa.jsonl"
    out.write_text("old\n")
    # The first sample fails after the temporary file was opened: nothing replaces the old file.
    result = workspace.destiler("export", "qa", "--format", "alpaca", "-o", str(out), "--fields", "user=nope")
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: task qa/") and line.endswith(
        "its content has no user text (looked for nope); name it with --fields ROLE=FIELD"
    )
    assert [p.name for p in folder.iterdir()] == ["qa.jsonl"]
    assert out.read_text() == "old\n"


def test_fields_name_the_turns_of_any_template(workspace: Workspace) -> None:
    rows, _, _ = export(workspace, "qa", "alpaca", "--fields", "user=answer,assistant=question")
    plain, _, _ = export(workspace, "qa", "alpaca")
    assert [(r["instruction"], r["output"]) for r in rows] == [(r["output"], r["instruction"]) for r in plain]


def test_bad_fields_are_one_line(workspace: Workspace) -> None:
    result = workspace.destiler("export", "qa", "--format", "alpaca", "-o", "x.jsonl", "--fields", "teacher=q")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --fields: 'teacher=q' is not ROLE=FIELD with ROLE one of user, assistant, system, messages"
    ]


def test_where_nothing_has_run_it_creates_neither_a_store_nor_a_file(tmp_path: Path) -> None:
    empty = Workspace(tmp_path)
    result = empty.destiler("export", "x", "--format", "alpaca", "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: no job named 'x': ") and "does not exist yet" in line
    assert list(tmp_path.iterdir()) == []


def test_the_state_store_is_never_replaced_by_an_export(workspace: Workspace) -> None:
    store = workspace.root / "data" / "destilation.db"
    before = store.read_bytes()
    result = workspace.destiler("export", "qa", "--format", "alpaca", "-o", str(store))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: -o: {store} is an SQLite database (a state store?): export will not replace it"
    ]
    assert store.read_bytes() == before
    assert workspace.destiler("show", "qa").exit_code == 0


def test_a_device_or_a_pipe_is_never_replaced_by_an_export(workspace: Workspace) -> None:
    pipe = workspace.root / "pipe"
    os.mkfifo(pipe)
    result = workspace.destiler("export", "qa", "--format", "alpaca", "-o", str(pipe))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: -o: {pipe} is not a regular file (a device or a pipe?): name a file to write"
    ]
    assert not pipe.is_file() and pipe.exists()


def test_standard_output_is_refused_rather_than_a_file_named_dash(workspace: Workspace) -> None:
    here = Path.cwd()
    os.chdir(workspace.root)
    try:
        result = workspace.destiler("export", "qa", "--format", "alpaca", "-o", "-")
    finally:
        os.chdir(here)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: -o: - (standard output) is not supported: the file appears whole or not at all"
    ]
    assert not (workspace.root / "-").exists()


@pytest.mark.parametrize("job", ["qa", "think", "pairs"])
def test_the_dataset_file_itself_loads_with_its_lineage(workspace: Workspace, job: str) -> None:
    path = workspace.root / "data" / job / "data.jsonl"
    loaded = load(path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert loaded.num_rows == len(lines) > 0
    meta = loaded.features["meta"]
    assert {"mode", "latency_s", "input", "messages", "preamble"} <= set(meta)
    first = loaded[0]["meta"]
    assert first["messages"][0]["role"] == "user" and first["preamble"].startswith("sha256:")
    assert first["input"]["axes"]["topic"] in first["messages"][0]["content"]
