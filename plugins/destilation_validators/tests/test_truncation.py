"""The truncation validator: cut off, empty, corrupt, unterminated and looping answers."""

from __future__ import annotations

import pytest

from destilation import PluginContext, PluginError
from destilation_validators.truncation import TruncationConfig, TruncationValidator

GOOD = '{"question": "What is the capital of France?", "answer": "Paris."}'


@pytest.fixture
def validator(context: PluginContext) -> TruncationValidator:
    return TruncationValidator(TruncationConfig(), context)


async def codes(validator, candidate, vctx, text: str, finish_reason: str | None = "stop") -> list[str]:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate(text, finish_reason), vctx)
    return [i.code for i in verdict.issues]


@pytest.mark.anyio
async def test_a_complete_answer_passes(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate(GOOD), vctx)
    assert verdict.ok and verdict.issues == () and not verdict.has_content
    assert await codes(validator, candidate, vctx, "plain prose\twith a tab\r\n", None) == []


@pytest.mark.anyio
async def test_length_finish_is_truncated_and_said_once(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate('{"question": "Why', "length"), vctx)
    assert [i.code for i in verdict.issues] == ["truncated"]
    assert "token limit" in verdict.issues[0].message
    assert await codes(validator, candidate, vctx, GOOD, "length") == ["truncated"]


@pytest.mark.anyio
@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_empty_answers(validator, candidate, vctx, text: str) -> None:  # type: ignore[no-untyped-def]
    assert await codes(validator, candidate, vctx, text) == ["empty"]
    # a reasoning model that spent its whole budget thinking: both facts are worth knowing
    assert await codes(validator, candidate, vctx, text, "length") == ["truncated", "empty"]


@pytest.mark.anyio
async def test_unterminated_json_names_what_is_open(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate('{\n  "steps": [\n    "first", "sec'), vctx)
    (issue,) = verdict.issues
    assert issue.code == "unterminated_json"
    assert issue.message == (
        "the JSON ends before it is complete: the string that starts at line 3, column 14 never ends; "
        "2 objects or arrays are still open; the innermost, the array opened at line 2, column 12, "
        "needs its closing ']'"
    )
    assert issue.hint is not None and "close every string" in issue.hint


@pytest.mark.anyio
async def test_unterminated_json_inside_a_fence_counts_lines_of_the_answer(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate('```json\n{"a": 1'), vctx)
    (issue,) = verdict.issues
    assert issue.message == (
        "the JSON ends before it is complete: the object opened at line 2, column 1 still needs its closing '}'"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```',
        "Not JSON at all, and that is for json_schema to say { [",
        '"a lone string is not an object"',
        '{"a": [1}',  # malformed rather than cut off
    ],
)
async def test_what_is_not_cut_off_json_is_not_unterminated(validator, candidate, vctx, text: str) -> None:  # type: ignore[no-untyped-def]
    assert await codes(validator, candidate, vctx, text) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": "x\x00y"}', "a NUL character (U+0000) at line 1, column 9"),
        ("ok\n\x1bm", "the control character U+001B at line 2, column 1"),
        ("caf\ufffd", "the replacement character U+FFFD"),
        ("bad \udcc3 byte", "an unpaired surrogate U+DCC3 (broken UTF-8"),
        ("\x07\x07\x07", "(and 2 more such characters)"),
    ],
)
async def test_corrupt_text(validator, candidate, vctx, text: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate(text), vctx)
    (issue,) = verdict.issues
    assert issue.code == "corrupt_text"
    assert fragment in issue.message
    assert issue.message.encode("utf-8")  # the surrogate is not copied into the message


@pytest.mark.anyio
async def test_replacement_char_can_be_allowed(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    lenient = TruncationValidator(TruncationConfig(allow_replacement_char=True), context)
    assert await codes(lenient, candidate, vctx, "U+FFFD looks like \ufffd") == []
    assert await codes(lenient, candidate, vctx, "still \x00") == ["corrupt_text"]


@pytest.mark.anyio
async def test_a_loop_is_repetition(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    text = '{"answer": "Intro!' + "and then we repeat it, " * 12 + '"}'
    verdict = await validator.check(candidate(text), vctx)
    (issue,) = verdict.issues
    assert issue.code == "repetition"
    assert issue.message == (
        'the text repeats "and then we repeat it, " 12 times in a row, starting at line 1, column 19'
    )
    assert issue.hint is not None and "Say each thing once" in issue.hint


@pytest.mark.anyio
async def test_a_returning_line_is_repetition(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    lines = ["Wait, that does not look right at all."]
    for i in range(9):
        lines += [f"Let me check step {i} of the calculation.", "Wait, that does not look right at all."]
    verdict = await validator.check(candidate("\n".join(lines)), vctx)
    (issue,) = verdict.issues
    assert issue.message == 'the line "Wait, that does not look right at all." makes up 10 of the 19 non-blank lines'


@pytest.mark.anyio
async def test_a_cut_off_loop_reports_both(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    text = '{"answer": "' + "the same words again and again " * 30
    assert await codes(validator, candidate, vctx, text, "length") == ["truncated", "repetition"]
    assert await codes(validator, candidate, vctx, text + "\x00") == ["corrupt_text", "unterminated_json", "repetition"]


def test_chunk_bounds_must_be_ordered(context: PluginContext) -> None:
    with pytest.raises(PluginError, match=r"max_repeat_chunk \(10\) must not be smaller than min_repeat_chunk \(20\)"):
        TruncationValidator(TruncationConfig(max_repeat_chunk=10), context)


def test_config_ranges() -> None:
    with pytest.raises(ValueError, match="min_repeat_run"):
        TruncationConfig(min_repeat_run=1)
    with pytest.raises(ValueError, match="max_repeat_ratio"):
        TruncationConfig(max_repeat_ratio=1.5)
