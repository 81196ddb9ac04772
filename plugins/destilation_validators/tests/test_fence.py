"""Stripping one Markdown fence around JSON."""

from __future__ import annotations

import pytest

from destilation_validators.fence import strip_fence


@pytest.mark.parametrize(
    ("text", "body", "offset"),
    [
        ('{"a": 1}', '{"a": 1}', 0),
        ('```json\n{"a": 1}\n```', '{"a": 1}\n', 1),
        ('```JSON\n{"a": 1}\n```\n', '{"a": 1}\n', 1),
        ('```\n{"a": 1}```', '{"a": 1}', 1),
        ('\n\n  ```json  \n{"a": 1}\n```  ', '{"a": 1}\n', 3),
        ('```json\n{"a": ', '{"a": ', 1),  # opening fence only: the answer was cut off
        ("```json\n```", "", 1),
        ("```\n", "", 1),
    ],
)
def test_fences_are_stripped(text: str, body: str, offset: int) -> None:
    assert strip_fence(text) == (body, offset)


@pytest.mark.parametrize(
    "text",
    [
        'print("hi")',
        "```python\nprint(1)\n```",  # another language is not ours to unwrap
        '```{"a": 1}```',  # no line break after the fence: not a Markdown block
        "text before\n```json\n{}\n```",
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    assert strip_fence(text) == (text, 0)
