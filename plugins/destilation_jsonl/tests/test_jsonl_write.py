"""write(): exact bytes and offsets, durability calls, and bad content refused before any byte."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonl_support import line_bytes, make_sample, make_sink, read_records

from destilation import PluginContext, PluginError, SinkCursor, ToolCall

pytestmark = pytest.mark.anyio


async def test_offsets_count_utf8_bytes_of_non_ascii_lines(context: PluginContext, data_dir: Path) -> None:
    sink = make_sink(context)
    assert await sink.open(SinkCursor()) == SinkCursor()
    first = [make_sample(1), make_sample(2)]
    second = [make_sample(3)]
    expected_first = b"".join(line_bytes(s) for s in first)
    # Non-ASCII text takes more bytes than characters: the offset must count bytes.
    assert len(expected_first) > len(expected_first.decode("utf-8"))

    offset = await sink.write(first)
    assert offset == len(expected_first)
    offset = await sink.write(second)
    assert offset == len(expected_first) + len(line_bytes(second[0]))
    assert sink.offset == offset

    path = data_dir / "demo" / "data.jsonl"
    assert path.read_bytes() == expected_first + line_bytes(second[0])
    assert read_records(path) == [s.record() for s in first + second]
    await sink.aclose()


async def test_lines_are_compact_content_first_then_meta(context: PluginContext, data_dir: Path) -> None:
    sink = make_sink(context)
    await sink.open(SinkCursor())
    sample = make_sample(
        1, {"q": "é"}, reasoning="weil", tool_calls=(ToolCall("c1", "calc", '{"x": 1}'),), scores={"judge": 0.5}
    )
    await sink.write([sample])
    raw = (data_dir / "demo" / "data.jsonl").read_bytes()
    assert raw.startswith('{"q":"é","reasoning":"weil","tool_calls":[{"id":"c1"'.encode())
    record = json.loads(raw)
    assert list(record) == ["q", "reasoning", "tool_calls", "meta"]
    assert record["meta"]["scores"] == {"judge": 0.5}
    assert record["meta"]["usage"] == {"prompt_tokens": 10, "completion_tokens": 20, "reasoning_tokens": 0}
    await sink.aclose()


async def test_every_line_has_every_key_so_column_types_never_change(context: PluginContext, data_dir: Path) -> None:
    sink = make_sink(context)
    await sink.open(SinkCursor())
    plain = make_sample(1, {"q": "a"})
    rich = make_sample(
        2, {"q": "b"}, reasoning="weil", tool_calls=(ToolCall("c1", "calc", "{}"),), scores={"judge": 0.5}
    )
    await sink.write([plain, rich])
    first, second = read_records(data_dir / "demo" / "data.jsonl")
    assert list(first) == list(second) == ["q", "reasoning", "tool_calls", "meta"]
    assert list(first["meta"]) == list(second["meta"])
    assert (first["reasoning"], first["tool_calls"], first["meta"]["scores"]) == ("", [], None)
    assert second["tool_calls"] == [{"id": "c1", "name": "calc", "arguments": "{}"}]
    await sink.aclose()


async def test_unicode_line_separators_are_escaped_so_every_reader_sees_one_line(
    context: PluginContext, data_dir: Path
) -> None:
    sink = make_sink(context)
    await sink.open(SinkCursor())
    text = "a\u2028b\u2029c\x85d\ne"
    await sink.write([make_sample(1, {"text": text})])
    raw = (data_dir / "demo" / "data.jsonl").read_bytes()
    assert raw.count(b"\n") == 1
    assert len(raw.decode("utf-8").splitlines()) == 1
    assert json.loads(raw)["text"] == text
    await sink.aclose()


async def test_empty_batch_returns_the_offset_without_touching_the_file(
    context: PluginContext, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = make_sink(context)
    await sink.open(SinkCursor())
    offset = await sink.write([make_sample(1)])
    calls: list[str] = []
    monkeypatch.setattr(os, "pwrite", lambda *a: calls.append("pwrite"))
    monkeypatch.setattr(os, "fsync", lambda *a: calls.append("fsync"))
    assert await sink.write([]) == offset
    assert calls == []
    await sink.aclose()


@pytest.mark.parametrize("fsync", [True, False])
async def test_one_write_and_one_fsync_per_batch_when_fsync_is_on(
    context: PluginContext, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    sink = make_sink(context, fsync=fsync)
    await sink.open(SinkCursor())
    pwrites: list[int] = []
    fsyncs: list[int] = []
    real_pwrite, real_fsync = os.pwrite, os.fsync

    def spy_pwrite(fd: int, data: Any, offset: int) -> int:
        pwrites.append(fd)
        return real_pwrite(fd, data, offset)

    def spy_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "pwrite", spy_pwrite)
    monkeypatch.setattr(os, "fsync", spy_fsync)
    batch = [make_sample(i) for i in range(1, 2001)]
    await sink.write(batch[:1000])
    await sink.write(batch[1000:])
    assert len(pwrites) == 2
    assert len(set(pwrites)) == 1  # the handle stays open between writes
    assert fsyncs == (pwrites if fsync else [])
    assert len(read_records(data_dir / "demo" / "data.jsonl")) == 2000
    await sink.aclose()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"x": float("nan")}, "Out of range float values are not JSON compliant"),
        ({"x": float("inf")}, "Out of range float values are not JSON compliant"),
        ({"x": "lone \ud800 surrogate"}, "surrogates not allowed"),
        ({"x": {1, 2}}, "not JSON serializable"),
    ],
)
async def test_bad_content_raises_one_clear_line_and_writes_nothing(
    context: PluginContext, data_dir: Path, content: Any, reason: str
) -> None:
    sink = make_sink(context)
    await sink.open(SinkCursor())
    good = await sink.write([make_sample(1)])
    with pytest.raises(PluginError) as info:
        # The good sample before the bad one is not written either: a batch is all or nothing.
        await sink.write([make_sample(2), make_sample(3, content)])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("jsonl sink: sample demo/2 (seq 3) cannot be written as JSON: ")
    assert reason in message
    path = data_dir / "demo" / "data.jsonl"
    assert path.stat().st_size == good == sink.offset
    assert read_records(path) == [make_sample(1).record()]
    await sink.aclose()


async def test_deep_nesting_is_refused_not_crashed_on(context: PluginContext) -> None:
    deep: Any = "leaf"
    for _ in range(100_000):
        deep = [deep]
    sink = make_sink(context)
    await sink.open(SinkCursor())
    with pytest.raises(PluginError, match="cannot be written as JSON"):
        await sink.write([make_sample(1, {"deep": deep})])
    await sink.aclose()


async def test_failed_write_is_cut_back_and_a_retry_starts_clean(
    context: PluginContext, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = make_sink(context)
    await sink.open(SinkCursor())
    offset = await sink.write([make_sample(1)])
    real_pwrite = os.pwrite

    def disk_full(fd: int, data: Any, position: int) -> int:
        real_pwrite(fd, bytes(data[:7]), position)  # a torn partial line reaches the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(PluginError) as info:
        await sink.write([make_sample(2)])
    assert str(info.value) == f"jsonl sink: cannot write {data_dir / 'demo' / 'data.jsonl'}: No space left on device"
    path = data_dir / "demo" / "data.jsonl"
    assert path.stat().st_size == offset == sink.offset

    monkeypatch.setattr(os, "pwrite", real_pwrite)
    await sink.write([make_sample(2)])
    assert read_records(path) == [make_sample(1).record(), make_sample(2).record()]
    await sink.aclose()


async def test_write_and_finalize_need_an_open_sink(context: PluginContext) -> None:
    sink = make_sink(context)
    with pytest.raises(PluginError, match="jsonl sink for job 'demo' is not open; call open"):
        await sink.write([make_sample(1)])
    await sink.open(SinkCursor())
    await sink.aclose()
    await sink.aclose()  # idempotent
    with pytest.raises(PluginError, match="not open"):
        await sink.write([])
    with pytest.raises(PluginError, match="not open"):
        await sink.finalize(sink.job, {})


async def test_async_with_closes_the_handle(context: PluginContext) -> None:
    async with make_sink(context) as sink:
        await sink.open(SinkCursor())
        await sink.write([make_sample(1)])
    with pytest.raises(PluginError, match="not open"):
        await sink.write([make_sample(2)])
