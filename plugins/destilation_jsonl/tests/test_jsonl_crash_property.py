"""Exactly once under crashes: cut the file anywhere a crash can leave it, resume, and every record
appears once, in order, none torn."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonl_support import make_context, make_sample, make_sink, read_records

from destilation import Sample, SinkCursor

scalars = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
contents = st.dictionaries(st.text(min_size=1, max_size=6), scalars | st.lists(scalars, max_size=3), max_size=4)
batches_of_contents = st.lists(st.lists(contents, min_size=1, max_size=5), min_size=1, max_size=6)


def _split(items: list[Any], sizes: list[int]) -> list[list[Any]]:
    """Cut `items` into consecutive batches of the drawn sizes (the last takes the rest)."""
    out: list[list[Any]] = []
    start = 0
    for size in sizes:
        if start >= len(items):
            break
        out.append(items[start : start + size])
        start += size
    if start < len(items):
        out.append(items[start:])
    return out


async def _scenario(folder: Path, batches: list[list[Any]], data: st.DataObject) -> None:
    context = make_context(folder)
    samples: list[list[Sample]] = []
    seq = 0
    for batch in batches:
        samples.append([])
        for content in batch:
            seq += 1
            samples[-1].append(make_sample(seq, content))
    everything = [s for batch in samples for s in batch]

    # First run: the exporter records (last seq, offset, digest) after each write returned.
    sink = make_sink(context)
    await sink.open(SinkCursor())
    cursors = [SinkCursor()]
    for batch in samples:
        offset = await sink.write(batch)
        cursors.append(SinkCursor(batch[-1].seq or 0, offset, sink.digest()))
    await sink.aclose()
    path = sink.path
    full = path.read_bytes()

    # The crash: the store holds one of the recorded cursors; the file holds every byte up to it
    # (it was fsynced before the cursor was recorded), then anything: part of later writes,
    # whole later batches, or junk such as zeros from a torn page. Or the bytes the cursor vouches
    # for changed in place, keeping the size (a byte overwritten, say with NUL).
    recorded = data.draw(st.sampled_from(cursors), label="recorded cursor")
    if data.draw(st.booleans(), label="durable prefix"):
        cut = data.draw(st.integers(recorded.offset, len(full)), label="cut")
        junk = data.draw(st.binary(max_size=20), label="junk")
    else:  # the file lost bytes the cursor vouches for (edited, restored from an old copy)
        cut = data.draw(st.integers(0, max(recorded.offset - 1, 0)), label="short cut")
        junk = b""
    kept = bytearray(full[:cut] + junk)
    if min(cut, recorded.offset) and data.draw(st.booleans(), label="overwritten in place"):
        at = data.draw(st.integers(0, min(cut, recorded.offset) - 1), label="overwritten byte")
        kept[at] = (kept[at] + 1) % 256
    path.write_bytes(bytes(kept))

    # Resume: repair, then write everything past the cursor the sink returns, in new batch sizes.
    resumed = make_sink(context)
    cursor = await resumed.open(recorded)
    assert cursor in (recorded, SinkCursor())
    rest = [s for s in everything if (s.seq or 0) > cursor.seq]
    sizes = data.draw(st.lists(st.integers(1, 4), max_size=len(rest)), label="resume batch sizes")
    for batch in _split(rest, sizes):
        await resumed.write(batch)
    await resumed.aclose()

    assert read_records(path) == [s.record() for s in everything]
    assert resumed.offset == path.stat().st_size


@settings(max_examples=200, deadline=None)
@given(batches=batches_of_contents, data=st.data())
def test_resume_after_a_crash_anywhere_writes_each_record_exactly_once(
    batches: list[list[Any]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(_scenario, Path(tmp), batches, data)
