"""The one redactor: URLs, headers, free text and nested values lose their credentials, nothing else."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import REDACTED, Secret, is_secret_key, redact_headers, redact_text, redact_url, redact_value, secrets
from destilation.redaction import redact_tree

_SAFE = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)
_PASSWORD = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=20)
_SECRET_PARAMS = ["key", "api_key", "apiKey", "token", "access_token", "password", "sig", "signature", "client_secret"]
_PLAIN_PARAMS = ["model", "sslmode", "x", "max_tokens", "options", "page"]


@given(
    scheme=st.sampled_from(["https", "http", "postgresql", "postgresql+psycopg", "redis"]),
    user=_SAFE,
    password=_PASSWORD.filter(lambda p: "\\" not in p),
    host=_SAFE,
    port=st.none() | st.integers(1, 65535),
    path=st.lists(_SAFE, max_size=3),
)
def test_a_url_password_is_masked_and_the_rest_kept(
    scheme: str, user: str, password: str, host: str, port: int | None, path: list[str]
) -> None:
    netloc = f"{host}:{port}" if port else host
    url = f"{scheme}://{user}:{password}@{netloc}/{'/'.join(path)}"
    shown = redact_url(url)
    parts = urlsplit(shown)
    assert parts.password == REDACTED
    assert (parts.username, parts.hostname, parts.port, parts.path) == (user, host.lower(), port, "/" + "/".join(path))
    assert redact_url(shown) == shown


@given(
    params=st.lists(
        st.tuples(st.sampled_from(_SECRET_PARAMS + _PLAIN_PARAMS), _SAFE),
        min_size=1,
        max_size=6,
        unique_by=lambda p: p[0],
    ),
    fragment=st.booleans(),
)
def test_secret_query_values_are_masked_and_the_others_kept(params: list[tuple[str, str]], fragment: bool) -> None:
    url = "https://h.example/v1?" + "&".join(f"{k}={v}" for k, v in params) + ("#top" if fragment else "")
    parts = urlsplit(redact_url(url))
    expected = [(k, REDACTED if k in _SECRET_PARAMS else v) for k, v in params]
    assert parse_qsl(parts.query) == expected
    assert parts.fragment == ("top" if fragment else "")


@given(before=st.text(max_size=30), after=st.text(max_size=30), value=st.text("abcdefXYZ0123456789", min_size=6))
def test_free_text_never_shows_a_known_secret(before: str, after: str, value: str) -> None:
    known = set(secrets._known)
    try:
        Secret(value)
        assert value not in redact_text(before + value + after)
    finally:  # the values made up here must not mask words in other tests' messages
        secrets._known.clear()
        secrets._known.update(known)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
        (
            "postgresql://u:hunter2@h/db?password=hunter2&sslmode=require",
            "postgresql://u:***@h/db?password=***&sslmode=require",
        ),
        ("//u:hunter2@x/y", "//u:***@x/y"),
        ("https://ghp0123456789abcdefXYZ@github.com/o/r", "https://***@github.com/o/r"),
        ("https://u:p@ss@h/x", "https://u:***@h/x"),
        ("https://h/x?api%5Fkey=abc&key=", "https://h/x?api%5Fkey=***&key="),
        ("https://h/x?key=${KEY}", "https://h/x?key=${KEY}"),
        ("sqlite:////tmp/state.db", "sqlite:////tmp/state.db"),
    ],
)
def test_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("401: Authorization: Bearer abc.def-ghi", "401: Authorization: Bearer ***"),
        ('{"api_key": "zz9", "model": "m"}', '{"api_key": "***", "model": "m"}'),
        ("x-api-key: abc123; next", "x-api-key: ***; next"),
        ("password=hunter2 and more", "password=*** and more"),
        ("Authorization: Basic dXNlcjpwdw==", "Authorization: Basic ***"),
        ("a basic question, basic facts", "a basic question, basic facts"),
        ("Cookie: session=abc; theme=dark", "Cookie: ***"),
        ("used sk-or-v1-0123456789abcdef0123 here", "used *** here"),
        ("sk-learn is not a key", "sk-learn is not a key"),
        ("max_tokens: 512, tokens: 30", "max_tokens: 512, tokens: 30"),
        ("token: ${TOKEN}", "token: ${TOKEN}"),
        ("Bearer ***", "Bearer ***"),
    ],
)
def test_free_text(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def test_free_text_masks_the_secrets_it_is_given_longest_first() -> None:
    assert redact_text("echo abcdefgh and abcdefghij", ["abcdefgh", "abcdefghij", ""]) == "echo *** and ***"


def test_headers_keep_their_scheme_and_plain_headers_lose_inline_credentials() -> None:
    headers = {
        "Authorization": "Bearer sk-1",
        "Proxy-Authorization": "Basic dXNlcjpwdw==",
        "x-api-key": "k",
        "api-key": "k",
        "Cookie": "a=b",
        "Set-Cookie": "a=b; Path=/",
        "Accept": "application/json",
        "Referer": "https://u:pw@h/x",
    }
    assert redact_headers(headers) == {
        "Authorization": "Bearer ***",
        "Proxy-Authorization": "Basic ***",
        "x-api-key": "***",
        "api-key": "***",
        "Cookie": "***",
        "Set-Cookie": "***",
        "Accept": "application/json",
        "Referer": "https://u:***@h/x",
    }
    assert redact_headers([("authorization", "token abc")]) == {"authorization": "token ***"}


@pytest.mark.parametrize("key", ["api_key", "apiKey", "X-Api-Key", "token", "sig", "pwd", "client_secret", "key"])
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["max_tokens", "tokens_per_minute", "keys", "monkey", "model", "signal"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_a_tree_is_redacted_with_the_paths_of_what_was_masked() -> None:
    value = {
        "providers": {
            "a": {"api_key": "sk-live", "token": "${TOKEN}", "password": "${P:-fallback}", "concurrency": 4},
            "b": {"base_url": "https://u:pw@h/v1", "model": "m"},
        },
        "api_keys": ["one", {"note": "two"}, 3],
        "held": Secret("sk-held-value"),
        "plain": ["text", 2.5, None, True],
    }
    shown, masked = redact_tree(value)
    assert shown == {
        "providers": {
            "a": {"api_key": REDACTED, "token": "${TOKEN}", "password": REDACTED, "concurrency": 4},
            "b": {"base_url": "https://u:***@h/v1", "model": "m"},
        },
        "api_keys": [REDACTED, {"note": REDACTED}, 3],
        "held": REDACTED,
        "plain": ["text", 2.5, None, True],
    }
    assert masked == [
        ("providers", "a", "api_key"),
        ("providers", "a", "password"),
        ("providers", "b", "base_url"),
        ("api_keys", 0),
        ("api_keys", 1, "note"),
        ("held",),
    ]
    assert redact_value({"key": ("a", "b"), "k": ("a",)}) == {"key": [REDACTED, REDACTED], "k": ["a"]}


def test_a_secret_cannot_hold_a_masked_value() -> None:
    for masked in (REDACTED, f"Bearer {REDACTED}", f"sk-{REDACTED}"):
        with pytest.raises(ValueError, match="redacted for storage"):
            Secret(masked)
