"""Regression: a dataset file in which reasoning, tool calls or scores first appear late loads with `datasets`."""

from __future__ import annotations

from pathlib import Path

import pytest

from destilation import Sample
from destilation.domain import ToolCall

encode = pytest.importorskip("destilation_jsonl.encode", reason="the lines are the jsonl sink's own")
datasets = pytest.importorskip("datasets")


def sample(index: int, **fields: object) -> Sample:
    return Sample(
        job="late",
        task_index=index,
        content={"question": f"q{index}", "answer": f"a{index}"},
        content_hash=f"h{index}",
        template_id="simple",
        template_version="1",
        provider="teacher",
        model="m",
        attempts=1,
        seq=index + 1,
        **fields,  # type: ignore[arg-type]
    )


def test_reasoning_first_seen_after_many_blocks_loads(tmp_path: Path) -> None:
    plain = [sample(i) for i in range(40)]
    late = sample(40, reasoning="because", tool_calls=(ToolCall("c1", "calc", '{"x": 1}'),), scores={"judge": 0.9})
    # Tool calls and scores come from the job's set-up (its tools, its judge): a job that has
    # them has them from its first sample. Reasoning may come and go sample by sample.
    with_calls = [sample(i, tool_calls=(ToolCall("c0", "calc", "{}"),), scores={"judge": 0.5}) for i in range(40)]
    for name, lines in {"reasoning": [*plain, sample(40, reasoning="because")], "all": [*with_calls, late]}.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"".join(encode.encode_line(s) for s in lines))
        # 256-byte blocks: `datasets` types the columns from the first block, as from a big file's first 10 MB.
        loaded = datasets.load_dataset(
            "json", data_files=str(path), split="train", chunksize=256, cache_dir=str(tmp_path)
        )
        assert loaded.num_rows == 41
        assert loaded[40]["reasoning"] == "because"
        assert loaded[0]["reasoning"] == ""


def test_a_key_missing_from_the_first_block_is_what_broke_loading(tmp_path: Path) -> None:
    # Why every key is on every line: without it the file does not load.
    path = tmp_path / "old.jsonl"
    path.write_text('{"q": "x"}\n' * 40 + '{"q": "x", "reasoning": "r"}\n')
    with pytest.raises(datasets.exceptions.DatasetGenerationError):
        datasets.load_dataset("json", data_files=str(path), split="train", chunksize=256, cache_dir=str(tmp_path))
