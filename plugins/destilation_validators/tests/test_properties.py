"""Property tests of the parsers and scanners, which read untrusted text of any shape."""

from __future__ import annotations

import json
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from destilation import Candidate, Generation, PluginContext, Task, TaskSeed
from destilation_validators.brackets import find_unclosed, too_deep
from destilation_validators.repetition import find_tandem
from destilation_validators.safe_json import parse_json
from destilation_validators.truncation import TruncationConfig, TruncationValidator

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)

containers: st.SearchStrategy[Any] = st.lists(json_values, max_size=5) | st.dictionaries(
    st.text(max_size=8), json_values, max_size=5
)

# Text made of JSON's own punctuation, escapes and surrogates, to reach the parser's corners.
_PIECES = [
    *'{}[]":,\\ \n\t0123456789.eE+-truefalsnNaIiy',
    *[
        "\\u",
        "\\ud800",
        "\\udc00",
        "\\ud83d\\ude00",
        "\ud800",
        "NaN",
        "Infinity",
        "1e999",
        '"a"',
        "\x00",
        "```json\n",
        "\n```",
    ],
]
json_ish = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)

# Any characters at all, lone surrogates and control characters included.
any_char = st.characters(codec=None, categories=["L", "M", "N", "P", "S", "Z", "C"])
any_text = st.text() | st.text(alphabet=any_char) | json_ish


@settings(deadline=None)  # no timing in tests: a slow machine must not fail them
@given(value=containers, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_complete_json_is_never_unterminated(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    assert find_unclosed(text, 0) is None


@settings(deadline=None)
@given(value=containers, data=st.data())
def test_every_proper_prefix_of_json_is_unterminated(value: Any, data: st.DataObject) -> None:
    text = json.dumps(value, ensure_ascii=False)
    cut = data.draw(st.integers(min_value=1, max_value=len(text) - 1)) if len(text) > 2 else 1
    assert find_unclosed(text[:cut], 0) is not None


@settings(deadline=None)
@given(value=json_values, limit=st.integers(min_value=1, max_value=6))
def test_depth_agrees_with_a_recursive_measure(value: Any, limit: int) -> None:
    def depth(v: Any) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    assert (too_deep(json.dumps(value), limit) is not None) == (depth(value) > limit)


# --- the safe parser ----------------------------------------------------------------------


@settings(deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 2]), ascii_only=st.booleans(), fence=st.booleans())
def test_safe_parser_agrees_with_json_loads(value: Any, indent: int | None, ascii_only: bool, fence: bool) -> None:
    plain = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    text = f"```json\n{plain}\n```" if fence else plain
    parsed = parse_json(text, max_bytes=10**7, max_depth=64)
    assert parsed.issue is None
    assert parsed.value == json.loads(plain)


@settings(deadline=None)
@given(text=any_text)
def test_safe_parser_never_raises_and_never_lets_unsafe_values_through(text: str) -> None:
    # a low depth limit so the depth check is reached often
    parsed = parse_json(text, max_bytes=10**6, max_depth=8)
    if parsed.issue is not None:
        assert parsed.issue.code in {
            "invalid_json",
            "too_large",
            "too_deep",
            "non_finite_number",
            "duplicate_key",
            "lone_surrogate",
        }
        assert parsed.issue.message.encode("utf-8")  # every message can be stored as UTF-8
        return
    # What passes can be written as strict UTF-8 JSON without NaN and reads back the same.
    dumped = json.dumps(parsed.value, allow_nan=False, ensure_ascii=False)
    assert dumped.encode("utf-8")
    assert json.loads(dumped) == parsed.value


# --- repetition ---------------------------------------------------------------------------


def _brute_tandem(text: str, min_chunk: int, max_chunk: int, min_run: int) -> bool:
    """Whether some passage of min_chunk..max_chunk characters occurs min_run times in a row."""
    for period in range(min_chunk, max_chunk + 1):
        need = (min_run - 1) * period
        run = 0
        for i in range(len(text) - period):
            run = run + 1 if text[i] == text[i + period] else 0
            if run >= need:
                return True
    return False


@settings(deadline=None)
@given(
    text=st.text(alphabet="ab", max_size=120) | st.text(alphabet="abc ", max_size=120),
    min_chunk=st.integers(min_value=1, max_value=6),
    extra=st.integers(min_value=0, max_value=10),
    min_run=st.integers(min_value=2, max_value=5),
)
def test_tandem_finder_agrees_with_brute_force(text: str, min_chunk: int, extra: int, min_run: int) -> None:
    found = find_tandem(text, min_chunk=min_chunk, max_chunk=min_chunk + extra, min_run=min_run)
    assert (found is not None) == _brute_tandem(text, min_chunk, min_chunk + extra, min_run)
    if found is not None:  # the report describes a real run
        assert text[found.start :].startswith(found.chunk * found.copies)
        assert found.copies * len(found.chunk) >= min_run * min_chunk


@settings(deadline=None)
@given(
    unit=st.text(alphabet="abcdefgh ", min_size=20, max_size=40),
    prefix=st.text(max_size=50),
    copies=st.integers(min_value=8, max_value=12),
)
def test_a_looping_passage_is_always_found(unit: str, prefix: str, copies: int) -> None:
    found = find_tandem(prefix + unit * copies, min_chunk=20, max_chunk=500, min_run=8)
    assert found is not None
    assert found.copies >= 8


# --- the truncation validator as a whole ---------------------------------------------------


@settings(deadline=None)
@given(text=any_text | json_ish.map(lambda t: "{" + t), finish=st.sampled_from(["stop", "length", None]))
def test_truncation_check_never_raises_and_keeps_messages_storable(text: str, finish: str | None) -> None:
    context = PluginContext(data_dir=".", emit=lambda event: None, http_client=lambda: None)
    validator = TruncationValidator(TruncationConfig(min_repeat_chunk=2, min_repeat_run=3), context)
    candidate = Candidate(Task("job", TaskSeed(0)), Generation(text, "mock", "m", finish_reason=finish))
    verdict = anyio.run(validator.check, candidate, None)
    for issue in verdict.issues:
        assert issue.code in {"truncated", "empty", "corrupt_text", "unterminated_json", "repetition"}
        assert issue.message.encode("utf-8")
