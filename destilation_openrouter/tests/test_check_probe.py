"""`destiler check --probe JOB.toml`: one small request per provider, one line each, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_openai import FakeOpenAI, start_fake_openai
from openrouter_helpers import KEY

import destilation_openrouter.plugin
from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation.testing import TestingKit

JOB = """name = "probed"
template = "testing.qa"
count = 3
processes = 1
[axes]
topic = ["tides"]
[routing]
strategy = "first"
[sinks.memory]
"""


def provider(name: str, base_url: str, extra: str = "") -> str:
    return f'[providers.{name}]\nkind = "openai"\nmodel = "m"\nbase_url = "{base_url}"\n{extra}'


@pytest.fixture
def check(tmp_path: Path) -> Callable[..., Result]:
    def run(*tables: str) -> Result:
        job = tmp_path / "job.toml"
        job.write_text(JOB + "".join(tables), encoding="utf-8")
        cli = make_cli(make_plugin_manager(load=False, extra=[TestingKit(), destilation_openrouter.plugin]))
        args = ["--db", "memory://", "--data-dir", str(tmp_path), "check", "--probe", str(job)]
        return CliRunner().invoke(cli, args, env={"OPENAI_API_KEY": None})

    return run


def test_each_provider_says_which_structured_output_mode_it_takes(check: Callable[..., Result]) -> None:
    with (
        start_fake_openai(FakeOpenAI()) as takes_schema,
        start_fake_openai(FakeOpenAI(refuse=["json_schema"])) as takes_object,
        start_fake_openai(FakeOpenAI(refuse=["json_schema", "json_object"])) as takes_prompt,
    ):
        result = check(provider("a", takes_schema), provider("b", takes_object), provider("c", takes_prompt))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("providers: a (openai), b (openai), c (openai), 1 process")
    assert lines[1:] == [
        "  a (openai): structured output: json_schema, answered as m",
        "  b (openai): structured output: json_object, answered as m",
        "  c (openai): structured output: prompt, answered as m",
    ]


def test_an_unreachable_provider_is_one_line_with_its_cause_and_exit_1(check: Callable[..., Result]) -> None:
    with start_fake_openai(FakeOpenAI()) as up:
        result = check(provider("up", up), provider("down", "http://127.0.0.1:9/v1", f'api_key = "{KEY}"\n'))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[1] == "  up (openai): structured output: json_schema, answered as m"
    assert lines[2].startswith("  down (openai): unreachable: down: request failed: ")
    assert len(lines) == 3
    assert KEY not in result.output


def test_a_refusing_server_is_reported_not_raised(check: Callable[..., Result]) -> None:
    with start_fake_openai(FakeOpenAI(refuse=["json_schema"], refuse_status=401, refuse_message="bad key")) as url:
        result = check(provider("locked", url))
    assert result.exit_code == 1
    assert (
        result.output.splitlines()[1]
        == "  locked (openai): unreachable: locked: HTTP 401, the API key was refused: bad key"
    )


def test_bad_config_is_exit_2_before_any_request(check: Callable[..., Result]) -> None:
    server = FakeOpenAI()
    with start_fake_openai(server) as url:
        result = check(provider("typo", url, "temprature = 1\n"))
    assert result.exit_code == 2
    assert "$.providers.typo.temprature: unknown key" in result.output
    assert server.requests == 0
