"""finalize(): metadata.json and the dataset card describe the file, publish no secret, replace atomically."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonl_support import make_job, make_sample, make_sink

from destilation import REDACTED, JobState, PluginContext, PluginError, SinkCursor, TaskState
from destilation_jsonl import files
from destilation_jsonl.card import size_category
from destilation_jsonl.scan import scan

pytestmark = pytest.mark.anyio

COUNTS = {TaskState.PENDING: 0, TaskState.RUNNING: 0, TaskState.ACCEPTED: 3, TaskState.REJECTED: 2}
SPEC: dict[str, Any] = {
    "name": "demo",
    "template": "simple",
    "count": 10,
    "max_tokens": 512,
    "providers": {
        "teacher": {"kind": "openrouter", "model": "vendor/big", "api_key": "sk-live-123", "concurrency": 4},
        "local": {"kind": "ollama", "model": "qwen3:8b", "headers": {"Authorization": "Bearer abc.def"}},
        "odd": "not a table",
    },
    "routing": {"strategy": "failover", "base_url": "https://user:pw@proxy.example/v1?key=k3y&x=1"},
    "sinks": {"jsonl": {}},
    "$origin": {"job_file": "/home/someone/private/demo.toml"},
}
SECRETS = ("sk-live-123", "abc.def", "user:pw", "k3y", "/home/someone")


def header_of(card: str) -> dict[str, Any]:
    """Parse the YAML front matter the sink writes: one `key: <JSON flow value>` per line."""
    lines = card.split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    header = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(": ")
        assert sep, line
        header[key] = json.loads(value)
    return header


async def _finalized(
    context: PluginContext, samples: list[Any], *, spec: dict[str, Any] | None = None, **config: Any
) -> tuple[Path, dict[str, Any], str]:
    job = make_job(spec=spec if spec is not None else SPEC)
    sink = make_sink(context, job, **config)
    await sink.open(SinkCursor())
    await sink.write(samples)
    await sink.finalize(job, COUNTS)
    await sink.aclose()
    folder = sink.folder
    return folder, json.loads((folder / "metadata.json").read_text("utf-8")), (folder / "README.md").read_text("utf-8")


async def test_metadata_describes_job_file_and_models(context: PluginContext) -> None:
    samples = [
        make_sample(1),
        make_sample(2, provider="local", model="qwen3:8b"),
        make_sample(3),
        make_sample(4, template_version="2"),
    ]
    folder, meta, _ = await _finalized(context, samples)
    assert meta["name"] == "demo"
    assert meta["state"] == "done"
    assert meta["target"] == 10
    assert meta["planned"] == 12
    assert meta["samples"] == 4
    assert meta["counts"] == {"pending": 0, "running": 0, "accepted": 3, "rejected": 2}
    assert meta["data_file"] == "data.jsonl"
    assert meta["template"] == {"id": "simple", "version": "1"}
    assert meta["providers"] == [
        {"name": "teacher", "kind": "openrouter", "model": "vendor/big"},
        {"name": "local", "kind": "ollama", "model": "qwen3:8b"},
        {"name": "odd", "kind": None, "model": None},
    ]
    assert meta["models"] == [
        {"provider": "teacher", "model": "model-a", "samples": 3},
        {"provider": "local", "model": "qwen3:8b", "samples": 1},
    ]
    assert meta["created_at"] == "2023-11-14T22:13:20Z"
    assert meta["finished_at"] == "2023-11-14T22:15:00Z"
    assert meta["destilation_version"] == importlib.metadata.version("destilation-core")
    assert meta["license"] is None
    assert meta["language"] is None
    assert meta["spec"]["max_tokens"] == 512
    assert meta["spec"]["providers"]["teacher"]["concurrency"] == 4
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data.jsonl", "metadata.json"]


async def test_no_secret_reaches_metadata_or_card(context: PluginContext) -> None:
    folder, meta, _ = await _finalized(context, [make_sample(1)])
    for name in ("metadata.json", "README.md", "data.jsonl"):
        text = (folder / name).read_text("utf-8")
        for secret in SECRETS:
            assert secret not in text, (name, secret)
    providers = meta["spec"]["providers"]
    assert providers["teacher"]["api_key"] == REDACTED
    assert providers["local"]["headers"]["Authorization"] == REDACTED
    assert meta["spec"]["routing"]["base_url"] == f"https://user:{REDACTED}@proxy.example/v1?key={REDACTED}&x=1"
    assert "$origin" not in meta["spec"]


async def test_card_header_is_a_hugging_face_dataset_card(context: PluginContext) -> None:
    _, _, card = await _finalized(context, [make_sample(1), make_sample(2)])
    header = header_of(card)
    assert header == {
        "pretty_name": "demo",
        "task_categories": ["text-generation"],
        "tags": ["synthetic", "distillation", "destilation"],
        "size_categories": ["n<1K"],
        "annotations_creators": ["machine-generated"],
        "source_datasets": ["original"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data.jsonl"}]}],
    }


async def test_license_and_language_appear_only_when_configured(context: PluginContext) -> None:
    _, meta, card = await _finalized(
        context, [make_sample(1)], filename="train.jsonl", license="cc-by-4.0", language=["en", "de"]
    )
    header = header_of(card)
    assert header["license"] == "cc-by-4.0"
    assert header["language"] == ["en", "de"]
    assert header["configs"][0]["data_files"] == [{"split": "train", "path": "train.jsonl"}]
    assert (meta["license"], meta["language"]) == ("cc-by-4.0", ["en", "de"])
    assert 'load_dataset("json", data_files="train.jsonl", split="train")' in card


async def test_card_body_lists_fields_counts_models_and_how_to_load(context: PluginContext) -> None:
    sample = make_sample(1, {"question": "q", "answer": "a", "n": 3, "ok": True, "x": None, "l": [], "o": {}, "f": 0.5})
    sample_r = make_sample(2, reasoning="because", provider="local", model="m|b")
    _, _, card = await _finalized(context, [sample, sample_r])
    body = card.split("\n---\n", 1)[1]
    assert "\n# demo\n" in body
    assert "It holds **2** samples (target 10)" in body
    assert "template simple version 1" in body
    for row in (
        "| question | string | generated by the model, shaped by the template's schema |",
        "| n | integer |",
        "| ok | boolean |",
        "| x | null |",
        "| l | array |",
        "| o | object |",
        "| f | number |",
        "| `meta.content_hash` | string |",
        "| `meta.usage` | object |",
        "| accepted | 3 |",
        "| rejected | 2 |",
        "| samples in data.jsonl | 2 |",
        "| teacher | model-a | 1 |",
        "| local | m\\|b | 1 |",  # a pipe in a model name cannot break the table
        "| teacher | openrouter | vendor/big |",
        "| odd | - | - |",
    ):
        assert row in body, row
    assert "| meta.content_hash |" not in body
    assert 'dataset = load_dataset("json", data_files="data.jsonl", split="train")' in body
    assert "finished 2023-11-14T22:15:00Z" in body


async def test_reasoning_and_non_object_content_fields_are_described(context: PluginContext) -> None:
    _, _, card = await _finalized(context, [make_sample(1, "just text", reasoning="r")], spec={})
    assert "| content | string | the generated content (the template produces a non-object value) |" in card
    assert "| reasoning | string | the model's reasoning trace; empty when it gave none |" in card
    # Present on every line, so the card lists it even for a sample without tool calls.
    assert "| tool\\_calls | array | tool calls the model made: id, name, arguments (JSON text); [] when none |" in card
    assert "Providers the job spec configures" not in card


async def test_empty_dataset_card(context: PluginContext) -> None:
    spec = {"template": "/home/someone/templates/my-template.toml"}
    job = make_job(spec=spec, finished_at=None, state=JobState.PAUSED)
    sink = make_sink(context, job)
    await sink.open(SinkCursor())
    await sink.finalize(job, {})
    await sink.aclose()
    meta = json.loads((sink.folder / "metadata.json").read_text())
    card = (sink.folder / "README.md").read_text()
    assert meta["samples"] == 0
    assert meta["models"] == []
    assert meta["counts"] == {"pending": 0, "running": 0, "accepted": 0, "rejected": 0}
    # Only the template file's name is published, not where it lives on the machine.
    assert meta["template"] == {"id": "my-template.toml", "version": None}
    assert meta["finished_at"] is None
    assert header_of(card)["size_categories"] == ["n<1K"]
    assert "The file holds no samples yet" in card
    assert "No samples yet." in card
    assert "finished not yet" in card
    assert "Job state: paused" in card


async def test_spec_without_template_or_providers(context: PluginContext) -> None:
    job = make_job(spec={"providers": ["not", "a", "table"]})
    sink = make_sink(context, job)
    await sink.open(SinkCursor())
    await sink.finalize(job, COUNTS)
    await sink.aclose()
    meta = json.loads((sink.folder / "metadata.json").read_text())
    assert meta["template"] == {"id": None, "version": None}
    assert meta["providers"] == []
    assert "a template the job spec does not name" in (sink.folder / "README.md").read_text()


@pytest.mark.parametrize(
    ("n", "bucket"),
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (9_999, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (99_999, "10K<n<100K"),
        (100_000, "100K<n<1M"),
        (999_999, "100K<n<1M"),
        (1_000_000, "1M<n<10M"),
        (10**7, "10M<n<100M"),
        (10**8, "100M<n<1B"),
        (10**9, "1B<n<10B"),
        (10**10, "10B<n<100B"),
        (10**11, "100B<n<1T"),
        (10**12 - 1, "100B<n<1T"),
        (10**12, "n>1T"),
    ],
)
def test_size_category_boundaries(n: int, bucket: str) -> None:
    assert size_category(n) == bucket


async def test_size_category_follows_the_line_count(context: PluginContext) -> None:
    samples = [make_sample(i, {"i": i}) for i in range(1, 1001)]
    _, meta, card = await _finalized(context, samples)
    assert meta["samples"] == 1000
    assert header_of(card)["size_categories"] == ["1K<n<10K"]


async def test_side_files_replace_symlinks_instead_of_writing_through_them(
    context: PluginContext, data_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("keep me")
    (data_dir / "demo").mkdir(parents=True)
    (data_dir / "demo" / "README.md").symlink_to(outside)
    folder, _, card = await _finalized(context, [make_sample(1)])
    assert outside.read_text() == "keep me"
    assert not (folder / "README.md").is_symlink()
    assert card.startswith("---\n")


async def test_failed_side_file_write_leaves_no_temp_file(context: PluginContext, data_dir: Path) -> None:
    (data_dir / "demo" / "metadata.json").mkdir(parents=True)
    job = make_job(spec=SPEC)
    sink = make_sink(context, job, fsync=True)
    await sink.open(SinkCursor())
    await sink.write([make_sample(1)])
    with pytest.raises(PluginError, match=r"^jsonl sink: cannot finalize .*data.jsonl: Is a directory$"):
        await sink.finalize(job, COUNTS)
    await sink.aclose()
    assert sorted(p.name for p in sink.folder.iterdir()) == ["data.jsonl", "metadata.json"]


async def test_finalize_fsyncs_side_files_and_folder_when_asked(
    context: PluginContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make_job(spec=SPEC)
    sink = make_sink(context, job, fsync=True)
    await sink.open(SinkCursor())
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    await sink.finalize(job, COUNTS)
    # Two temp files and the folder after each replace.
    assert len(synced) == 4
    assert synced[1] == synced[3]
    await sink.aclose()


async def test_card_tolerates_a_content_key_named_meta(context: PluginContext) -> None:
    # Sample.record() puts lineage at the position of a content key "meta": the fast path misses it.
    samples = [make_sample(1, {"meta": "mine", "z": 1}), make_sample(2)]
    _, meta, _ = await _finalized(context, samples)
    assert meta["models"] == [{"provider": "teacher", "model": "model-a", "samples": 2}]


def test_scan_counts_edited_lines_without_describing_them(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    good = json.dumps(make_sample(1).record()).encode()
    path.write_bytes(b"not json\n[1,2]\n" + good + b"\n" + b'{"meta":{"x":1}\n')
    fd = os.open(path, os.O_RDONLY)
    try:
        found = scan(fd, path.stat().st_size, chunk=7).result()  # tiny chunks: lines cross chunk borders
        shrunk = scan(fd, path.stat().st_size + 100).result()  # the file shrank under the cursor
    finally:
        os.close(fd)
    assert found.lines == shrunk.lines == 4
    assert found.first is None
    assert found.models == [("teacher", "model-a", 1)]


def test_write_all_finishes_partial_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: real(fd, bytes(data[:3]), offset))
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        files.write_all(fd, b"abcdefgh", 0)
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"abcdefgh"
