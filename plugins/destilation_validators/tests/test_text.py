"""Message helpers and JSON paths."""

from __future__ import annotations

from destilation_validators.jsonpath import child, strings
from destilation_validators.text import clip, line_col, quote, safe, where


def test_line_col_and_where() -> None:
    text = "ab\ncd\nef"
    assert line_col(text, 0) == (1, 1)
    assert line_col(text, 4) == (2, 2)
    assert where(text, 7) == "line 3, column 2"
    assert where(text, 7, line_offset=2) == "line 5, column 2"


def test_messages_stay_encodable_and_short() -> None:
    assert safe("a\ud800b") == "a\\ud800b"
    assert safe("a\ud800b").encode("utf-8")
    assert quote('say "hi"\n') == '"say \\"hi\\"\\n"'
    assert quote("x" * 100, 10) == '"' + "x" * 10 + '…"'
    assert quote("\udc80") == '"\\udc80"'
    assert clip("short") == "short"
    long = clip("y" * 1000)
    assert len(long) == 300 and long.endswith("…")


def test_child_paths_match_jsonschema_spelling() -> None:
    assert child("$", "answer") == "$.answer"
    assert child("$.items", 3) == "$.items[3]"
    assert child("$", "two words") == "$['two words']"
    assert child("$", "it's\\") == "$['it\\'s\\\\']"


def test_strings_walks_every_string_in_order() -> None:
    value = {"a": "x", "b": [1, "y", {"c d": "z"}], "e": None, "f": True}
    assert list(strings(value)) == [("$.a", "x"), ("$.b[1]", "y"), ("$.b[2]['c d']", "z")]
    assert list(strings("top")) == [("$", "top")]
    assert list(strings(42)) == []
