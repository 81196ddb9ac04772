"""Secrets never reach a dataset: keys that name credentials, credentials inside strings."""

from __future__ import annotations

import datetime
import math

import pytest

from destilation import Secret
from destilation_jsonl.card import md, yaml_value
from destilation_jsonl.redact import REDACTED, is_secret_key, redact, scrub


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "API_KEY",
        "apiKey",
        "apikey",
        "x-api-key",
        "X-Api-Key",
        "Authorization",
        "proxy-authorization",
        "auth",
        "token",
        "access_token",
        "refresh-token",
        "bearerToken",
        "secret",
        "client_secret",
        "secret_key",
        "password",
        "db_passwd",
        "private_key",
        "aws_access_key_id",
        "credentials",
        "key",
        "Cookie",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["max_tokens", "tokens_per_minute", "maxTokens", "model", "temperature", "keys", "monkey", "author", "kind", 7],
)
def test_ordinary_keys(key: object) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pw@host/x", f"https://user:{REDACTED}@host/x"),
        ("postgresql+psycopg://app:s3cr3t@db:5432/d", f"postgresql+psycopg://app:{REDACTED}@db:5432/d"),
        ("https://h/v1?api_key=abc&model=m", f"https://h/v1?api_key={REDACTED}&model=m"),
        ("https://h/v1?model=m&token=abc#frag", f"https://h/v1?model=m&token={REDACTED}#frag"),
        ("Bearer sk-abc, next", f"Bearer {REDACTED}, next"),
        ("basic dXNlcjpwdw==", f"basic {REDACTED}"),
        ("mail me at someone@example.org", "mail me at someone@example.org"),
        ("https://host/path?model=m", "https://host/path?model=m"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_redact_walks_nested_values_and_keeps_json_types() -> None:
    spec = {
        "providers": {"a": {"api_key": "sk-1", "options": {"headers": [{"Authorization": "Bearer x"}]}}},
        "list": [1, 2.5, True, None, ("t", "u")],
        "temperature": math.nan,
        "budget": math.inf,
        "secret_thing": {"nested": "whole table goes"},
        "when": datetime.date(2025, 1, 1),
        "held": Secret("sk-2"),
        3: "int key",
    }
    assert redact(spec) == {
        "providers": {"a": {"api_key": REDACTED, "options": {"headers": [{"Authorization": REDACTED}]}}},
        "list": [1, 2.5, True, None, ["t", "u"]],
        "temperature": "nan",
        "budget": "inf",
        "secret_thing": REDACTED,
        "when": REDACTED,
        "held": REDACTED,
        "3": "int key",
    }


def test_redact_does_not_change_its_input() -> None:
    spec = {"api_key": "sk-1"}
    redact(spec)
    assert spec == {"api_key": "sk-1"}


def test_yaml_values_escape_what_yaml_will_not_take_raw() -> None:
    value = "a\u2028b\x85c\ufeffd\x7f\ud800é🙂"
    text = yaml_value(value)
    assert text == '"a\\u2028b\\u0085c\\ufeffd\\u007f\\ud800é🙂"'
    assert text.encode("utf-8")  # no lone surrogate left to crash the writer


def test_markdown_escape_makes_text_inert_and_one_line() -> None:
    assert md("a|b\n# *c* [x](y) <img>") == "a\\|b \\# \\*c\\* \\[x\\]\\(y\\) \\<img\\>"
