"""The bracket scanner: cut-off JSON is found, complete JSON never is, depth is measured outside strings."""

from __future__ import annotations

import pytest

from destilation_validators.brackets import Unclosed, find_unclosed, too_deep


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2', Unclosed((0, 6))),
        ('{"a": "x', Unclosed((0,), 6)),
        ('{"a": "x\\', Unclosed((0,), 6)),  # ends on a lone backslash inside the string
        ('{"a": "x\\"', Unclosed((0,), 6)),  # the quote is escaped, so the string is still open
        ('  [{"k": "]}"', Unclosed((2, 3))),  # brackets inside strings do not count
        ("[[[", Unclosed((0, 1, 2))),
    ],
)
def test_cut_off_values_are_reported(text: str, expected: Unclosed) -> None:
    assert find_unclosed(text, len(text) - len(text.lstrip())) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2]}',
        '{"a": "x\\\\"}',  # an escaped backslash, then the closing quote
        "[1, 2] and then some prose with a { brace",  # what follows the value is not our concern
        '{"a": [1, 2}',  # mismatched: malformed, which the parser reports, not cut off
        "[]",
    ],
)
def test_complete_or_malformed_values_are_not_reported(text: str) -> None:
    assert find_unclosed(text, 0) is None


def test_depth_outside_strings() -> None:
    assert too_deep("[[1]]", 2) is None
    assert too_deep("[[[1]]]", 2) == 2
    assert too_deep('["[[[[[", {"a": "{{{{"}]', 2) is None  # brackets in strings are text
    assert too_deep('{"a": {"b": {"c": []}}}', 3) == 18
    assert too_deep("[]" * 100, 1) is None  # many brackets, none nested
    assert too_deep("]]]][[[[", 5) is None  # malformed input is the parser's to report
