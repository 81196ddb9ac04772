"""Loops in model output: passages repeated back to back, lines that keep coming back."""

from __future__ import annotations

import json

from destilation_validators.repetition import Repeat, RepeatedLine, find_repeated_line, find_tandem

DEFAULTS = {"min_chunk": 20, "max_chunk": 500, "min_run": 8}


def test_a_passage_repeated_in_a_row_is_found_with_its_extent() -> None:
    loop = "The answer is the answer. "
    text = "Intro!" + loop * 9 + "The end"
    assert find_tandem(text, **DEFAULTS) == Repeat(start=6, chunk=loop, copies=9)


def test_the_run_is_measured_from_its_earliest_start() -> None:
    # The text before the loop ends like the loop does, so the repetition starts earlier, rotated.
    text = "Intro text here. " + "The answer is the answer. " * 9
    assert find_tandem(text, **DEFAULTS) == Repeat(start=15, chunk=". The answer is the answer", copies=9)


def test_a_short_unit_is_reported_at_its_own_length() -> None:
    found = find_tandem("x" + "ab" * 100, **DEFAULTS)
    assert found == Repeat(start=1, chunk="ab", copies=100)


def test_too_few_copies_or_too_short_a_passage_is_not_a_loop() -> None:
    assert find_tandem("Intro. " + "The answer is the answer. " * 7 + "End", **DEFAULTS) is None
    assert find_tandem("ab" * 70, **DEFAULTS) is None  # 140 characters: 7 copies of a 20-character chunk
    assert find_tandem("-" * 80, **DEFAULTS) is None  # a Markdown rule


def test_passages_longer_than_max_chunk_are_not_searched() -> None:
    paragraph = "".join(f"sentence number {i} is different. " for i in range(20))
    text = paragraph * 8
    assert find_tandem(text, **DEFAULTS) is None
    assert find_tandem(text, min_chunk=20, max_chunk=1000, min_run=8) is not None


def test_ordinary_output_has_no_loop() -> None:
    items = [{"question": f"What is {i} squared?", "answer": f"{i * i}"} for i in range(200)]
    text = json.dumps(items, indent=2)
    assert find_tandem(text, **DEFAULTS) is None
    assert find_repeated_line(text, min_chunk=20, min_run=8, max_ratio=0.5) is None


def test_a_line_that_keeps_coming_back_is_found() -> None:
    lines = []
    for i in range(10):
        lines += [f"Step {i}: something new happens here {i * 7}", "Let me reconsider the whole problem again."]
    text = "\n".join(lines[:-1])  # 19 lines, 9 of them the same
    assert find_repeated_line(text, min_chunk=20, min_run=8, max_ratio=0.4) == RepeatedLine(
        "Let me reconsider the whole problem again.", 9, 19
    )
    assert find_repeated_line(text, min_chunk=20, min_run=8, max_ratio=0.5) is None
    assert find_repeated_line(text, min_chunk=20, min_run=10, max_ratio=0.4) is None


def test_short_lines_do_not_count() -> None:
    text = "\n".join(["}"] * 50 + ["a line long enough to count"])
    assert find_repeated_line(text, min_chunk=20, min_run=8, max_ratio=0.5) is None
    assert find_repeated_line("", min_chunk=20, min_run=8, max_ratio=0.5) is None


def test_large_inputs_are_scanned_in_one_pass() -> None:
    # A megabyte of varied text is searched quickly; a megabyte of one character ends at once.
    words = [f"w{i % 977}x{i % 131}" for i in range(120_000)]
    assert find_tandem(" ".join(words), **DEFAULTS) is None
    assert find_tandem("a" * 1_000_000, **DEFAULTS) == Repeat(0, "a", 1_000_000)
