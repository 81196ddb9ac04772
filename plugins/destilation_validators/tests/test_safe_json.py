"""The safe JSON parser refuses what `json.loads` lets through, with one clear issue each."""

from __future__ import annotations

import pytest

from destilation_validators.safe_json import parse_json


def parse(text: str, max_bytes: int = 1_000_000, max_depth: int = 64):  # type: ignore[no-untyped-def]
    return parse_json(text, max_bytes=max_bytes, max_depth=max_depth)


def test_valid_json_parses() -> None:
    parsed = parse('{"question": "Why?", "n": [1, 2.5, null, true]}')
    assert parsed.issue is None
    assert parsed.value == {"question": "Why?", "n": [1, 2.5, None, True]}


def test_a_fence_is_stripped() -> None:
    assert parse('```json\n{"a": 1}\n```').value == {"a": 1}


def test_a_valid_surrogate_pair_escape_is_kept() -> None:
    assert parse('["\\ud83d\\ude00", "\\\\ud800"]').value == ["\U0001f600", "\\ud800"]


def test_size_is_capped_before_parsing() -> None:
    issue = parse('"' + "x" * 200 + '"', max_bytes=100).issue
    assert issue is not None and issue.code == "too_large"
    assert "100 bytes" in issue.message
    # bytes, not characters: 30 characters of 4 bytes each are 120 bytes
    assert parse('"' + "\U0001f600" * 30 + '"', max_bytes=100).issue is not None
    assert parse('"' + "é" * 30 + '"', max_bytes=100).issue is None  # 62 bytes
    assert parse('"' + "x" * 20 + '"', max_bytes=100).issue is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ('{"a": 1e999}', "1e999 is too large"),
    ],
)
def test_non_finite_numbers_are_refused(text: str, fragment: str) -> None:
    issue = parse(text).issue
    assert issue is not None and issue.code == "non_finite_number"
    assert fragment in issue.message


def test_duplicate_keys_are_refused_even_when_nested() -> None:
    issue = parse('{"a": {"k": 1, "j": 2, "k": 3}}').issue
    assert issue is not None and issue.code == "duplicate_key"
    assert '"k"' in issue.message
    assert issue.hint


def test_literal_lone_surrogates_are_refused_with_their_position() -> None:
    issue = parse('{\n "a": "x\udc80y"}').issue
    assert issue is not None and issue.code == "lone_surrogate"
    assert "U+DC80 at line 2, column 9" in issue.message
    assert issue.message.encode("utf-8")


@pytest.mark.parametrize(
    ("text", "escape"),
    [
        ('["\\ud800"]', "\\ud800"),  # a high surrogate alone
        ('["\\udc00"]', "\\udc00"),  # a low surrogate alone
        ('["\\uD83D\\uD83D\\uDE00"]', "\\uD83D"),  # two highs: the first has no partner
        ('["\\ud83d\\ude00\\ude00"]', "\\ude00"),  # a pair, then a stray low one
        ('{"\\\\\\ud800": 1}', "\\ud800"),  # an escaped backslash, then a real escape
    ],
)
def test_escaped_lone_surrogates_are_refused(text: str, escape: str) -> None:
    issue = parse(text).issue
    assert issue is not None and issue.code == "lone_surrogate"
    assert f"the escape {escape} at line 1" in issue.message


def test_nesting_is_limited_without_recursion() -> None:
    issue = parse("[" * 10 + "]" * 10, max_depth=5).issue
    assert issue is not None and issue.code == "too_deep"
    assert "more than 5 levels" in issue.message and "column 6" in issue.message
    assert parse("[" * 5 + "]" * 5, max_depth=5).issue is None
    # hundreds of thousands of brackets: refused by the scan, long before the decoder recurses
    assert parse("[" * 300_000 + "]" * 300_000, max_bytes=10**7).issue.code == "too_deep"  # type: ignore[union-attr]


def test_recursion_error_is_an_issue_too() -> None:
    # A depth limit above the interpreter's own lets the decoder recurse until it gives up.
    issue = parse("[" * 200_000 + "]" * 200_000, max_bytes=10**7, max_depth=10**6).issue
    assert issue is not None and issue.code == "too_deep"


def test_huge_integers_are_an_issue() -> None:
    issue = parse("[" + "9" * 5000 + "]").issue
    assert issue is not None and issue.code == "invalid_json"
    assert "too many digits" in issue.message


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ('{"a": 1} and some notes', "Extra data at line 1, column 10", "nothing after it"),
        ('{"a": 1}\n{"b": 2}', "Extra data at line 2, column 1", "nothing after it"),
        ("{'a': 1}", "Expecting property name enclosed in double quotes at line 1, column 2", "double quotes"),
        ('{"a": 1,}', "at line 1, column 9", "trailing commas"),
        ('{"a": "x\ny"}', "Invalid control character at line 1, column 9", "\\n"),
        ('{"a": "\\q"}', "Invalid \\escape at line 1, column 8", "JSON escapes"),
        ('{"a": [1, 2', "at line 1, column 12", "stops too early"),
        ('{"a": "open', "Unterminated string", "stops too early"),
        ("Sure! Here is the JSON: {}", "Expecting value at line 1, column 1", "Start the answer"),
        ("  \n  nope", "Expecting value at line 2, column 3", "Start the answer"),
        ('{"a": tru}', "Expecting value at line 1, column 7", "one valid JSON value"),
        ("\ufeff{}", "BOM", "Start the answer"),
    ],
)
def test_parse_errors_name_line_column_and_a_fix(text: str, message: str, hint: str) -> None:
    issue = parse(text).issue
    assert issue is not None and issue.code == "invalid_json"
    assert message in issue.message
    assert issue.hint is not None and hint in issue.hint


def test_parse_error_lines_count_from_the_answer_not_the_fence_body() -> None:
    issue = parse('```json\n{"a": 1}\n{"b": 2}\n```').issue
    assert issue is not None
    assert "Extra data at line 3, column 1" in issue.message
    assert 'near "{\\"b\\": 2}' in issue.message
    issue = parse("```json\n[\n[[1, 2, 3]]]]\n```", max_depth=2).issue
    assert issue is not None and issue.code == "too_deep"
    assert "line 3, column 2" in issue.message
    issue = parse('```json\n["\\ud800"]\n```').issue
    assert issue is not None and "at line 2, column 3" in issue.message
