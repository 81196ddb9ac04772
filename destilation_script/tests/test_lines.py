"""Line splitting with caps: whatever the chunks, the same lines; a line over the cap is caught."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation_script.lines import LineTooLong, StderrLines, StdoutLines

lines = st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=12)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@given(lines, st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_stdout_lines_do_not_depend_on_how_the_bytes_arrive(expected: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in expected)
    splitter = StdoutLines(cap=30)
    got = [line for piece in chunked(data, cuts) for line in splitter.feed(piece)]
    assert got == [line.rstrip(b"\r") for line in expected]


def test_a_stdout_line_over_the_cap_raises_with_or_without_its_newline() -> None:
    with pytest.raises(LineTooLong):
        StdoutLines(cap=4).feed(b"12345\n")
    splitter = StdoutLines(cap=4)
    assert splitter.feed(b"1234") == []
    with pytest.raises(LineTooLong):
        splitter.feed(b"5")
    assert StdoutLines(cap=4).feed(b"ab\r\ncd\n") == [b"ab", b"cd"]


@given(st.lists(st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")), max_size=8), st.lists(st.integers(0, 200)))
def test_stderr_lines_are_cut_to_the_cap_and_flagged(expected: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in expected)
    splitter = StderrLines(cap=8)
    got = [line for piece in chunked(data, cuts) for line in splitter.feed(piece)] + splitter.flush()
    assert got == [(line[:8].rstrip(b"\r"), len(line) > 8) for line in expected]


def test_stderr_without_a_last_newline_is_flushed_at_the_end() -> None:
    splitter = StderrLines(cap=8)
    assert splitter.feed(b"one\ntw") == [(b"one", False)]
    assert splitter.flush() == [(b"tw", False)]
    assert splitter.flush() == []


def test_a_long_stderr_line_split_over_chunks_is_cut_once_and_the_rest_skipped() -> None:
    splitter = StderrLines(cap=4)
    assert splitter.feed(b"abcdefg") == [(b"abcd", True)]
    assert splitter.feed(b"hij") == []
    assert splitter.feed(b"klm\nxy\n") == [(b"xy", False)]
    assert splitter.flush() == []
