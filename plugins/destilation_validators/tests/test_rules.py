"""The rules validator: lengths, patterns and forbidden phrases on parsed content."""

from __future__ import annotations

import pytest

from destilation import PluginContext, PluginError
from destilation_validators.rules import RulesConfig, RulesValidator


def rules(context: PluginContext, **options) -> RulesValidator:  # type: ignore[no-untyped-def]
    return RulesValidator(RulesConfig(**options), context)


@pytest.mark.anyio
async def test_unparsed_candidates_are_left_to_the_json_validator(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    validator = rules(context, min_length={"answer": 5}, forbidden=["as an AI"])
    verdict = await validator.check(candidate("as an AI, not JSON"), vctx)
    assert verdict.ok and not verdict.issues and not verdict.has_content


@pytest.mark.anyio
async def test_default_rules_accept_anything(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await RulesValidator(None, context).check(candidate(content={"answer": ""}), vctx)
    assert verdict.issues == ()


@pytest.mark.anyio
async def test_lengths_count_characters_without_surrounding_whitespace(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    validator = rules(context, min_length={"answer": 5, "missing": 3}, max_length={"question": 10, "n": 1})
    content = {"question": "  What is eleven?  ", "answer": "  ok   ", "n": 12345}
    verdict = await validator.check(candidate(content=content), vctx)
    assert [(i.code, i.path, i.message) for i in verdict.issues] == [
        ("too_short", "$.answer", "is 2 characters long; it must have at least 5"),
        ("too_long", "$.question", "is 15 characters long; it may have at most 10"),
    ]
    assert "at least 5 characters" in verdict.issues[0].hint  # type: ignore[operator]
    assert "at most 10 characters" in verdict.issues[1].hint  # type: ignore[operator]
    # fields that are absent or not strings are the schema's business
    ok = await validator.check(candidate(content={"question": "Why?", "answer": "Because."}), vctx)
    assert ok.issues == ()


@pytest.mark.anyio
async def test_regex_must_match_somewhere(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    validator = rules(context, regex={"answer": r"\d+", "question": r"\?$", "odd key": "x"})
    verdict = await validator.check(candidate(content={"question": "Sum of 2 and 2", "answer": "It is 4"}), vctx)
    assert [(i.code, i.path) for i in verdict.issues] == [("pattern", "$.question")]
    assert verdict.issues[0].message == 'does not match the required pattern "\\\\?$"'
    verdict = await validator.check(candidate(content={"odd key": "y"}), vctx)
    assert [i.path for i in verdict.issues] == ["$['odd key']"]


@pytest.mark.anyio
async def test_forbidden_phrases_anywhere_ignoring_case_and_spacing(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    validator = rules(context, forbidden=["as an AI language model", "I cannot"])
    content = {
        "question": "What is 2 + 2?",
        "answer": "AS AN AI\nLanguage   model, I think it is 4.",
        "steps": ["first", {"note": "i cannot say more"}],
    }
    verdict = await validator.check(candidate(content=content), vctx)
    assert [(i.code, i.path, i.message) for i in verdict.issues] == [
        ("forbidden_phrase", "$.answer", 'contains the forbidden phrase "AS AN AI\\nLanguage   model"'),
        ("forbidden_phrase", "$.steps[1].note", 'contains the forbidden phrase "i cannot"'),
    ]
    # non-object content is searched as well
    verdict = await validator.check(candidate(content=["fine", "As an AI language model"]), vctx)
    assert [i.path for i in verdict.issues] == ["$[1]"]


def test_invalid_regex_is_a_plugin_error_naming_the_field(context: PluginContext) -> None:
    with pytest.raises(PluginError, match="regex for field 'answer' is not a valid regular expression"):
        rules(context, regex={"answer": "(unclosed"})


def test_empty_forbidden_phrase_is_refused(context: PluginContext) -> None:
    with pytest.raises(PluginError, match="forbidden phrases must not be empty"):
        rules(context, forbidden=["ok", "   "])


@pytest.mark.parametrize("option", ["min_length", "max_length"])
def test_negative_lengths_are_refused(context: PluginContext, option: str) -> None:
    with pytest.raises(PluginError, match=f"{option} for field 'answer' must not be negative"):
        rules(context, **{option: {"answer": -1}})
