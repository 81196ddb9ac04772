"""`destiler ollama models` against the fake server, in process."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from fake_ollama import FakeModel, FakeOllama, run_fake

from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation_ollama.cli import human_size


@pytest.fixture
def served() -> Iterator[tuple[FakeOllama, str]]:
    server = FakeOllama()
    server.models["llama3.2:3b"] = FakeModel(
        family="llama",
        parameter_size="3.2B",
        quantization="Q8_0",
        size=3_400_000_000,
        capabilities=["completion", "tools"],
    )
    with run_fake(server) as url:
        yield server, url


def destiler(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(make_cli(make_plugin_manager(allow=["ollama"])), list(args), env=env)


def test_models_table(served: tuple[FakeOllama, str]) -> None:
    server, url = served
    result = destiler("ollama", "models", "--host", url)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "NAME         SIZE    FAMILY  PARAMETERS  QUANTIZATION  CAPABILITIES",
        "qwen3:8b     5.2 GB  qwen3   8.2B        Q4_K_M        completion,tools,thinking",
        "llama3.2:3b  3.4 GB  llama   3.2B        Q8_0          completion,tools",
    ]
    assert sorted(server.shows) == ["llama3.2:3b", "qwen3:8b"]


def test_models_json_from_the_environments_host(served: tuple[FakeOllama, str]) -> None:
    server, url = served
    server.show_fails.add("llama3.2:3b")
    result = destiler("ollama", "models", "--json", env={"OLLAMA_HOST": url.removeprefix("http://")})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "name": "qwen3:8b",
            "size": 5_225_388_164,
            "family": "qwen3",
            "parameter_size": "8.2B",
            "quantization": "Q4_K_M",
            "capabilities": ["completion", "tools", "thinking"],
            "context_length": 40960,
        },
        {
            "name": "llama3.2:3b",
            "size": 3_400_000_000,
            "family": "llama",
            "parameter_size": "3.2B",
            "quantization": "Q8_0",
            "capabilities": None,
            "context_length": None,
        },
    ]
    table = destiler("ollama", "models", "--host", url)
    assert table.stdout.splitlines()[2].endswith("Q8_0          -")


def test_a_server_with_no_models_says_how_to_get_one(served: tuple[FakeOllama, str]) -> None:
    server, url = served
    server.models.clear()
    result = destiler("ollama", "models", "--host", url)
    assert (result.exit_code, result.stdout) == (0, "no models pulled: `ollama pull NAME` fetches one\n")


def test_sparse_entries_show_dashes() -> None:
    from destilation_ollama.cli import row, table

    sparse = row({"name": "x", "size": True, "details": "odd"}, {"capabilities": "no", "model_info": []})
    assert sparse == dict.fromkeys(
        ("size", "family", "parameter_size", "quantization", "capabilities", "context_length")
    ) | {"name": "x"}
    empty = row({"name": "y"}, {"capabilities": [], "model_info": {"a.context_length": "big"}})
    assert [line.split() for line in table([sparse, empty]).splitlines()[1:]] == [
        ["x", "-", "-", "-", "-", "-"],
        ["y", "-", "-", "-", "-", "-"],
    ]


def test_an_unreachable_host_is_one_line_and_exit_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = destiler("ollama", "models", "--host", f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot reach Ollama at http://127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (["--host", "ftp://x"], {}, "--host"),
        (["--host", "gpu box"], {}, "--host"),
        ([], {"OLLAMA_HOST": "a:b:c"}, "OLLAMA_HOST"),
    ],
)
def test_a_bad_host_is_bad_input(args: list[str], env: dict[str, str], where: str) -> None:
    result = destiler("ollama", "models", *args, env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: Invalid value for {where}: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, "-"), (999, "999 B"), (1500, "1.5 KB"), (4_700_000_000, "4.7 GB"), (2 * 10**12, "2.0 TB")],
)
def test_sizes_read_like_ollama_list(size: int | None, shown: str) -> None:
    assert human_size(size) == shown
