"""open(): repair the file to the durable cursor, or empty it for a rebuild; never follow symlinks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from jsonl_support import line_bytes, make_context, make_job, make_sample, make_sink, read_records

from destilation import Event, PluginContext, PluginError, SinkCursor

pytestmark = pytest.mark.anyio


async def _written(context: PluginContext, batches: list[list[int]]) -> tuple[Path, list[SinkCursor]]:
    """Write batches of sample seqs through a sink; return the file and the cursor after each batch."""
    sink = make_sink(context)
    await sink.open(SinkCursor())
    cursors = []
    for batch in batches:
        offset = await sink.write([make_sample(seq) for seq in batch])
        cursors.append(SinkCursor(batch[-1], offset, sink.digest()))
    await sink.aclose()
    return sink.path, cursors


async def test_missing_file_is_created_and_rebuilt_from_seq_zero(
    context: PluginContext, data_dir: Path, events: list[Event]
) -> None:
    sink = make_sink(context, fsync=True)
    assert await sink.open(SinkCursor(7, 900)) == SinkCursor()
    assert sink.path == data_dir / "demo" / "data.jsonl"
    assert sink.path.read_bytes() == b""
    assert sink.offset == 0
    assert [(e.kind, e.job, e.severity) for e in events] == [("sink_repair", "demo", "warning")]
    assert events[0].message == "data.jsonl was missing; rebuilding it from the store"
    assert events[0].data == {"sink": "jsonl", "file": "data.jsonl"}
    await sink.aclose()


async def test_intact_file_at_the_cursor_is_kept_as_is(context: PluginContext, events: list[Event]) -> None:
    path, cursors = await _written(context, [[1, 2], [3]])
    before = path.read_bytes()
    events.clear()
    sink = make_sink(context)
    assert await sink.open(cursors[-1]) == cursors[-1]
    assert path.read_bytes() == before
    assert sink.offset == cursors[-1].offset
    assert events == []
    await sink.write([make_sample(4)])
    assert [r["meta"]["task"] for r in read_records(path)] == [0, 1, 2, 3]
    await sink.aclose()


async def test_torn_last_line_is_cut(context: PluginContext, events: list[Event]) -> None:
    path, cursors = await _written(context, [[1, 2]])
    with path.open("ab") as fh:
        fh.write(line_bytes(make_sample(3))[:25])  # a crash in the middle of the next write
    events.clear()
    sink = make_sink(context, fsync=True)
    assert await sink.open(cursors[-1]) == cursors[-1]
    assert path.stat().st_size == cursors[-1].offset
    assert [(e.severity, e.message) for e in events] == [("info", "cut 25 bytes past sample seq 2 from data.jsonl")]
    await sink.write([make_sample(3)])
    assert [r["meta"]["content_hash"] for r in read_records(path)] == ["h00000001", "h00000002", "h00000003"]
    await sink.aclose()


async def test_lines_written_after_the_last_recorded_cursor_are_cut(context: PluginContext) -> None:
    # The crash hit between write() returning and the store recording the cursor.
    path, cursors = await _written(context, [[1], [2, 3], [4]])
    sink = make_sink(context)
    assert await sink.open(cursors[0]) == cursors[0]
    assert read_records(path) == [make_sample(1).record()]
    await sink.write([make_sample(2), make_sample(3), make_sample(4)])
    assert read_records(path) == [make_sample(s).record() for s in (1, 2, 3, 4)]
    await sink.aclose()


async def test_file_shorter_than_the_cursor_is_emptied_for_a_rebuild(
    context: PluginContext, events: list[Event]
) -> None:
    path, cursors = await _written(context, [[1], [2]])
    os.truncate(path, cursors[0].offset)  # lost its tail: the cursor vouches for more than is there
    events.clear()
    sink = make_sink(context)
    assert await sink.open(cursors[-1]) == SinkCursor()
    assert path.read_bytes() == b""
    assert [(e.severity, e.message) for e in events] == [
        ("warning", f"data.jsonl is shorter than its recorded {cursors[-1].offset} bytes; rebuilding it from the store")
    ]
    await sink.aclose()


async def test_replaced_file_is_emptied_for_a_rebuild(context: PluginContext, events: list[Event]) -> None:
    path, cursors = await _written(context, [[1], [2]])
    path.write_bytes(b"x" * (cursors[-1].offset + 10))  # same size or longer, but not our lines
    events.clear()
    sink = make_sink(context)
    assert await sink.open(cursors[-1]) == SinkCursor()
    assert path.read_bytes() == b""
    assert [(e.severity, e.message) for e in events] == [
        ("warning", "data.jsonl was replaced or edited; rebuilding it from the store")
    ]
    await sink.aclose()


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


async def test_the_digest_is_the_sha256_of_the_file_up_to_the_offset(context: PluginContext) -> None:
    path, cursors = await _written(context, [[1, 2], [3]])
    data = path.read_bytes()
    assert [c.digest for c in cursors] == [_sha256(data[: c.offset]) for c in cursors]
    sink = make_sink(context)
    assert sink.digest() == ""  # nothing written or verified yet: nothing to prove
    await sink.open(cursors[0])  # cuts the third line, goes on from the digest of the first two
    await sink.write([make_sample(3), make_sample(4)])
    assert sink.digest() == _sha256(path.read_bytes())
    await sink.aclose()


async def test_a_line_overwritten_with_nul_bytes_keeping_the_size_is_rebuilt(
    context: PluginContext, events: list[Event]
) -> None:
    path, cursors = await _written(context, [[1], [2], [3]])
    data = bytearray(path.read_bytes())
    start = cursors[0].offset
    data[start : cursors[1].offset - 1] = bytes(cursors[1].offset - 1 - start)  # line 2 zeroed, newline kept
    path.write_bytes(bytes(data))
    events.clear()
    sink = make_sink(context)
    assert await sink.open(cursors[-1]) == SinkCursor()
    assert path.read_bytes() == b""
    assert [(e.severity, e.message) for e in events] == [
        (
            "warning",
            f"data.jsonl did not match the store (changed before byte {cursors[-1].offset}); "
            "rebuilding it from the store",
        )
    ]
    await sink.write([make_sample(seq) for seq in (1, 2, 3)])
    assert read_records(path) == [make_sample(seq).record() for seq in (1, 2, 3)]
    assert sink.digest() == cursors[-1].digest
    await sink.aclose()


async def test_a_changed_line_past_the_cursor_is_cut_not_a_mismatch(
    context: PluginContext, events: list[Event]
) -> None:
    path, cursors = await _written(context, [[1], [2]])
    with path.open("r+b") as fh:
        fh.seek(cursors[0].offset)
        fh.write(b"\0" * 5)
    events.clear()
    sink = make_sink(context)
    assert await sink.open(cursors[0]) == cursors[0]
    assert [e.severity for e in events] == ["info"]
    await sink.aclose()


async def test_a_cursor_without_a_digest_keeps_the_file_and_gains_one(
    context: PluginContext, events: list[Event]
) -> None:
    # Cursors recorded by an earlier release carry no digest: the file is taken as it stands.
    _, cursors = await _written(context, [[1], [2]])
    events.clear()
    sink = make_sink(context)
    legacy = SinkCursor(cursors[-1].seq, cursors[-1].offset)
    assert await sink.open(legacy) == cursors[-1]
    assert events == []
    await sink.aclose()


@pytest.mark.parametrize("cursor", [SinkCursor(), SinkCursor(0, 50), SinkCursor(3, 0), SinkCursor(-1, -1)])
async def test_a_cursor_that_vouches_for_nothing_empties_the_file(
    context: PluginContext, events: list[Event], cursor: SinkCursor
) -> None:
    path, _ = await _written(context, [[1, 2]])
    events.clear()
    sink = make_sink(context)
    assert await sink.open(cursor) == SinkCursor()
    assert path.read_bytes() == b""
    assert [(e.severity, e.message) for e in events] == [
        ("info", "no sample of data.jsonl was recorded as exported; rewriting it from the store")
    ]
    await sink.aclose()


async def test_first_open_of_a_new_job_is_quiet(context: PluginContext, events: list[Event]) -> None:
    sink = make_sink(context, fsync=True)
    assert await sink.open(SinkCursor()) == SinkCursor()
    assert sink.path.read_bytes() == b""
    assert events == []
    await sink.aclose()


async def test_empty_file_and_empty_cursor_is_quiet(context: PluginContext, events: list[Event]) -> None:
    await _written(context, [])
    events.clear()
    sink = make_sink(context)
    assert await sink.open(SinkCursor()) == SinkCursor()
    assert events == []
    await sink.aclose()


async def test_open_twice_reopens_cleanly(context: PluginContext) -> None:
    path, cursors = await _written(context, [[1]])
    sink = make_sink(context)
    await sink.open(cursors[-1])
    await sink.open(cursors[-1])
    await sink.write([make_sample(2)])
    assert len(read_records(path)) == 2
    await sink.aclose()


async def test_symlinked_job_folder_is_refused(context: PluginContext, data_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    os.makedirs(elsewhere)
    os.makedirs(data_dir)
    (data_dir / "demo").symlink_to(elsewhere, target_is_directory=True)
    sink = make_sink(context)
    with pytest.raises(PluginError) as info:
        await sink.open(SinkCursor())
    assert str(info.value) == f"jsonl sink: output folder {data_dir / 'demo'} is a symlink; refusing to follow it"
    assert list(elsewhere.iterdir()) == []
    await sink.aclose()


async def test_symlinked_data_file_is_refused(context: PluginContext, data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_bytes(b"do not touch\n")
    (data_dir / "demo").mkdir(parents=True)
    (data_dir / "demo" / "data.jsonl").symlink_to(target)
    sink = make_sink(context)
    with pytest.raises(PluginError) as info:
        await sink.open(SinkCursor(1, 5))
    assert str(info.value) == f"jsonl sink: data file {sink.path} is a symlink; refusing to follow it"
    assert target.read_bytes() == b"do not touch\n"
    await sink.aclose()


async def test_dangling_symlink_as_data_file_is_refused_not_created_through(
    context: PluginContext, data_dir: Path, tmp_path: Path
) -> None:
    (data_dir / "demo").mkdir(parents=True)
    (data_dir / "demo" / "data.jsonl").symlink_to(tmp_path / "would-be-created")
    sink = make_sink(context)
    with pytest.raises(PluginError, match="is a symlink; refusing to follow it"):
        await sink.open(SinkCursor())
    assert not (tmp_path / "would-be-created").exists()
    await sink.aclose()


async def test_job_folder_that_is_a_file_is_refused(context: PluginContext, data_dir: Path) -> None:
    os.makedirs(data_dir)
    (data_dir / "demo").write_text("not a folder")
    with pytest.raises(PluginError, match=r"output folder .*demo is not a folder$"):
        await make_sink(context).open(SinkCursor())


async def test_fifo_as_data_file_is_refused(context: PluginContext, data_dir: Path) -> None:
    (data_dir / "demo").mkdir(parents=True)
    os.mkfifo(data_dir / "demo" / "data.jsonl")
    sink = make_sink(context)
    with pytest.raises(PluginError, match=r"data file .*data.jsonl is not a regular file$"):
        await sink.open(SinkCursor())
    await sink.aclose()


async def test_os_errors_become_one_line_naming_the_file(tmp_path: Path, events: list[Event]) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder should be")
    sink = make_sink(make_context(blocker / "data", events))
    with pytest.raises(PluginError) as info:
        await sink.open(SinkCursor())
    assert str(info.value) == f"jsonl sink: cannot open {blocker / 'data' / 'demo' / 'data.jsonl'}: Not a directory"


async def test_data_file_that_is_a_folder_is_reported(context: PluginContext, data_dir: Path) -> None:
    (data_dir / "demo" / "data.jsonl").mkdir(parents=True)
    sink = make_sink(context)
    with pytest.raises(PluginError, match=r"cannot open .*data.jsonl: Is a directory$"):
        await sink.open(SinkCursor())
    await sink.aclose()


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "nul\0"])
def test_job_names_that_are_not_one_folder_are_refused(context: PluginContext, name: str) -> None:
    with pytest.raises(PluginError, match="cannot be a folder name"):
        make_sink(context, make_job(name))


@pytest.mark.parametrize("filename", ["", ".hidden", "a/b.jsonl", "../x.jsonl", "metadata.json", "README.md", "a b"])
def test_filenames_that_are_not_plain_are_refused(context: PluginContext, filename: str) -> None:
    with pytest.raises(PluginError, match="must be a plain file name"):
        make_sink(context, filename=filename)


def test_language_given_as_a_string_is_refused(context: PluginContext) -> None:
    expected = "jsonl sink: language must be a list of codes such as ['en'], got ['e', 'n']"
    with pytest.raises(PluginError) as info:
        make_sink(context, language=["e", "n"])  # what cattrs makes of `language = "en"`
    assert str(info.value) == expected


async def test_custom_filename_is_used(context: PluginContext, data_dir: Path) -> None:
    sink = make_sink(context, filename="train_v2.jsonl")
    await sink.open(SinkCursor())
    await sink.write([make_sample(1)])
    assert read_records(data_dir / "demo" / "train_v2.jsonl") == [make_sample(1).record()]
    await sink.aclose()
