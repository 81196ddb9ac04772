"""The dataset check proves content, not just size: a line overwritten in place is rebuilt from the store."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

COUNT = 40


def overwrite_a_line_with_nul(destiler, job: str, number: int) -> int:
    """Zero line `number` of the dataset in place (its newline kept, so the size and line count stay)."""
    path = destiler.data_dir / job / "data.jsonl"
    data = bytearray(path.read_bytes())
    lines = data.split(b"\n")
    start = sum(len(line) + 1 for line in lines[:number])
    data[start : start + len(lines[number])] = bytes(len(lines[number]))
    path.write_bytes(bytes(data))
    return len(data)


def assert_exact(destiler, job: str, count: int) -> None:
    data = (destiler.data_dir / job / "data.jsonl").read_bytes()
    assert b"\0" not in data
    records = [json.loads(line) for line in data.splitlines()]
    assert len(records) == count
    assert len({record["meta"]["task"] for record in records}) == count


@pytest.mark.parametrize("again", ["run", "resume"])
def test_a_line_overwritten_with_nul_bytes_is_rebuilt_with_one_line_saying_so(destiler, write_job, again) -> None:
    job = write_job("kept", count=COUNT)
    first = destiler("run", str(job))
    assert first.returncode == 0, first.stderr
    size = overwrite_a_line_with_nul(destiler, "kept", 7)

    result = destiler(*(("run", str(job)) if again == "run" else ("resume", "kept")))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: kept: data.jsonl did not match the store (changed before byte {size}); rebuilding it from the store"
    ]
    assert "already done" in result.stdout
    assert_exact(destiler, "kept", COUNT)
    assert (destiler.data_dir / "kept" / "data.jsonl").stat().st_size == size

    quiet = destiler("resume", "kept")  # checked again, now it matches: nothing to say
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert "dataset checked against the store" in quiet.stdout
