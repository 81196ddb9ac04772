"""Normalised word shingles: what the near-duplicate check compares."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from destilation_validators.shingles import content_text, jaccard, normalise, shingles


def test_case_punctuation_and_whitespace_do_not_count() -> None:
    assert normalise("  Hello,   WORLD!\n\tIt's_a test.") == ["hello", "world", "it", "s", "a", "test"]
    assert shingles("The cat, sat!", 2) == shingles("the   CAT sat", 2) == {"the cat", "cat sat"}


def test_a_text_shorter_than_a_shingle_is_one_shingle() -> None:
    assert shingles("two words", 3) == {"two words"}
    assert shingles("three words here", 3) == {"three words here"}
    assert shingles(" ... ", 3) == set()


def test_content_text_takes_every_string_or_the_named_fields() -> None:
    content = {"question": "Why?", "answer": {"parts": ["Because", 3, "so"]}, "n": 1}
    assert content_text(content, None) == "Why?\nBecause\nso"
    assert content_text(content, ["answer", "missing"]) == "Because\nso"
    assert content_text(["a", "b"], None) == "a\nb"
    assert content_text(["a", "b"], ["answer"]) == ""


def test_jaccard() -> None:
    assert jaccard({"a", "b"}, {"b", "c"}) == 1 / 3
    assert jaccard(set(), set()) == 0.0


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@given(texts, st.integers(min_value=1, max_value=5))
def test_shingles_ignore_separators(text: str, size: int) -> None:
    assert shingles(" , ".join(text.split()) + "!", size) == shingles(text, size)


@given(st.text(alphabet="abcXYZ .,!-", max_size=80), st.integers(min_value=1, max_value=5))
def test_shingles_ignore_case(text: str, size: int) -> None:
    assert shingles(text.swapcase(), size) == shingles(text, size)


@given(st.sets(st.text(max_size=3)), st.sets(st.text(max_size=3)))
def test_jaccard_is_a_symmetric_share(a: set[str], b: set[str]) -> None:
    value = jaccard(a, b)
    assert value == jaccard(b, a)
    assert 0.0 <= value <= 1.0
    assert (value == 1.0) == (bool(a) and a == b)
