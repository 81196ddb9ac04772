"""`destiler openrouter models` and `destiler openrouter key` against a fake OpenRouter on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fake_openai import FakeOpenAI, start_fake_openai
from openrouter_helpers import KEY

import destilation_openrouter.plugin
from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation_openrouter.commands import model_entry


@pytest.fixture
def openrouter() -> Iterator[str]:
    with start_fake_openai(FakeOpenAI(prices=("0.000003", "0.000015"), model="a/model")) as base_url:
        yield base_url


def destiler(*args: str, env: dict[str, str | None] | None = None) -> Result:
    cli = make_cli(make_plugin_manager(load=False, extra=[destilation_openrouter.plugin]))
    defaults: dict[str, str | None] = {"OPENROUTER_API_KEY": None, "OPENROUTER_BASE_URL": None}
    return CliRunner().invoke(cli, list(args), env={**defaults, **(env or {})})


def test_models_lists_context_prices_and_capabilities(openrouter: str) -> None:
    result = destiler("openrouter", "models", "--base-url", openrouter)
    assert result.exit_code == 0, result.output
    assert result.output == ("a/model: context 8192, $3/$15 per Mtok, capabilities: json_schema, reasoning, tools\n")


def test_models_json_and_the_base_url_from_the_environment(openrouter: str) -> None:
    result = destiler("openrouter", "models", "--json", env={"OPENROUTER_BASE_URL": openrouter})
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)
    assert entry["id"] == "a/model"
    assert entry["prompt_per_mtok"] == pytest.approx(3.0)
    assert entry["completion_per_mtok"] == pytest.approx(15.0)
    assert entry["capabilities"] == ["json_schema", "reasoning", "tools"]
    assert "max_tokens" in entry["supported_parameters"]


def test_a_model_entry_tolerates_missing_fields() -> None:
    entry = model_entry({"id": "x", "pricing": "none", "supported_parameters": ["tools", 3]})
    assert entry["prompt_per_mtok"] is None and entry["context_length"] is None
    assert entry["capabilities"] == ["tools"]


def test_a_model_list_without_prices_prints_dashes() -> None:
    with start_fake_openai(FakeOpenAI(model="plain")) as base_url:
        result = destiler("openrouter", "models", "--base-url", base_url)
    assert result.output == "plain: context -, -/- per Mtok, capabilities: none\n"


def test_key_shows_limit_usage_and_what_remains(openrouter: str) -> None:
    result = destiler("openrouter", "key", "--base-url", openrouter, env={"OPENROUTER_API_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert result.output == "key sk-or-v1-abc...xyz: used $2.5, limit $10, $7.5 remaining\n"
    result = destiler("openrouter", "key", "--json", "--base-url", openrouter, env={"OPENROUTER_API_KEY": KEY})
    assert json.loads(result.output)["limit_remaining"] == 7.5


def test_key_without_a_limit(monkeypatch: pytest.MonkeyPatch, openrouter: str) -> None:
    monkeypatch.setattr(
        FakeOpenAI,
        "key",
        lambda self, headers: (200, json.dumps({"data": {"usage": 0, "limit": None, "limit_remaining": None}}), {}),
    )
    result = destiler("openrouter", "key", "--base-url", openrouter, env={"OPENROUTER_API_KEY": KEY})
    assert result.output == "key: used $0, no limit\n"


def test_a_missing_key_is_one_line_and_exit_2(openrouter: str) -> None:
    result = destiler("openrouter", "key", "--base-url", openrouter)
    assert result.exit_code == 2
    assert result.output == "error: no API key: set OPENROUTER_API_KEY\n"


def test_a_refused_key_is_one_line_without_the_key(monkeypatch: pytest.MonkeyPatch, openrouter: str) -> None:
    monkeypatch.setattr(
        FakeOpenAI, "key", lambda self, headers: (401, json.dumps({"error": {"message": f"bad key {KEY}"}}), {})
    )
    result = destiler("openrouter", "key", "--base-url", openrouter, env={"OPENROUTER_API_KEY": KEY})
    assert result.exit_code == 1
    assert result.output.startswith("error: openrouter: HTTP 401, the API key was refused: bad key ")
    assert KEY not in result.output


@pytest.mark.parametrize(
    ("answer", "why"),
    [((200, "[1, 2]", {}), "no 'data'"), ((200, "not json", {}), "not JSON"), ((200, '{"data": 3}', {}), "not an")],
)
def test_odd_answers_are_one_line(monkeypatch: pytest.MonkeyPatch, openrouter: str, answer: Any, why: str) -> None:
    monkeypatch.setattr(FakeOpenAI, "key", lambda self, headers: answer)
    result = destiler("openrouter", "key", "--base-url", openrouter, env={"OPENROUTER_API_KEY": KEY})
    assert result.exit_code == 1
    assert why in result.output and len(result.output.splitlines()) == 1


def test_an_unreachable_openrouter_is_one_line_and_exit_1() -> None:
    base_url = "http://127.0.0.1:9/api/v1"
    result = destiler("openrouter", "models", "--base-url", base_url, env={"OPENROUTER_API_KEY": KEY})
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot reach {base_url}: ")
    assert len(result.output.splitlines()) == 1
    assert KEY not in result.output


@pytest.mark.parametrize(
    "base_url",
    [
        "http://[::1",
        "openrouter.ai/api/v1",
        "ftp://example.org",
        "http://",
        "http://open router.ai",
        "https://openrouter.ai:70000",
    ],
)
def test_a_bad_base_url_is_one_line_and_exit_2(base_url: str) -> None:
    result = destiler("openrouter", "models", env={"OPENROUTER_BASE_URL": base_url})
    assert result.exit_code == 2
    assert result.output == (
        "error: --base-url (or OPENROUTER_BASE_URL) must be an http:// or https:// URL"
        " with a host (and a port in 1-65535)\n"
    )
