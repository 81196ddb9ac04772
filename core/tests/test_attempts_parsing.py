"""The engine's own parse, used only when no validator parsed the answer, is strict."""

from __future__ import annotations

import pytest

from destilation.engine.attempts import request_seed, strict_json


def test_strict_json_accepts_plain_json() -> None:
    assert strict_json('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": 1, "a": 2}', '"\\ud800"', "\ud800", "{"])
def test_strict_json_refuses_what_a_dataset_must_not_hold(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages
        strict_json(text)


def test_request_seed_is_stable_per_task() -> None:
    assert request_seed(1, 2) == request_seed(1, 2)
    assert request_seed(1, 2) != request_seed(1, 3)
    assert 0 <= request_seed(9, 9) < 2**32
