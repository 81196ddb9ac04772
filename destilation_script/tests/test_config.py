"""The job's table for a `script` provider: an argv list only, checked options, a program that exists."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from destilation import ConfigError, PluginContext, PluginError, ProviderInfo, Secret
from destilation.config import structure
from destilation_script.config import ScriptConfig
from destilation_script.factory import child_env, make_provider

INFO = ProviderInfo("teacher", "script", "m")


def table(**options: object) -> ScriptConfig:
    return structure(options, ScriptConfig, source="job.toml", path="$.providers.teacher")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            "python3 provider.py",
            "job.toml: $.providers.teacher.command: must be a list (an argv, never a shell string): "
            'command = ["python3", "provider.py"]',
        ),
        (
            ["python3", 3],
            'job.toml: $.providers.teacher.command: must be a list of strings: command = ["python3", "provider.py"]',
        ),
        ({"argv": "x"}, "job.toml: $.providers.teacher.command: must be a list of strings"),
        ([], "job.toml: $.providers.teacher.command: must name a program"),
        ([""], "job.toml: $.providers.teacher.command: must name a program"),
    ],
)
def test_a_command_that_is_not_an_argv_list_is_one_line_naming_the_key(command: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        table(command=command)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_numbers_must_be_positive_and_env_values_are_secrets() -> None:
    with pytest.raises(ConfigError, match=r"\$.providers.teacher.timeout_s: must be > 0: 0"):
        table(command=["x"], timeout_s=0)
    config = table(command=["x", "--fast"], env={"KEY": "value-123456"}, max_in_flight=2)
    assert config.argv == ("x", "--fast") and config.env == {"KEY": Secret("value-123456")}
    assert "value-123456" not in repr(config)


def test_the_child_environment_is_a_minimal_base_plus_env() -> None:
    config = ScriptConfig(command=["x"], env={"KEY": Secret("k-1"), "PATH": Secret("/srv/tools/bin")})
    parent = {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "AWS_SECRET_ACCESS_KEY": "no"}
    assert child_env(config, parent) == {"PATH": "/srv/tools/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "KEY": "k-1"}
    assert child_env(ScriptConfig(command=["x"]), {"HOME": "/h"}) == {"HOME": "/h"}


def test_building_checks_the_program_exists_and_starts_nothing(context: PluginContext, tmp_path: Path) -> None:
    script = tmp_path / "bin" / "provider.py"
    script.parent.mkdir()
    script.write_text("")
    make_provider(ScriptConfig(command=[sys.executable, str(script)]), context, INFO)
    with pytest.raises(PluginError) as caught:
        make_provider(ScriptConfig(command=["./provider.py"], cwd=str(script.parent)), context, INFO)
    assert str(caught.value) == (
        "provider 'teacher': program './provider.py' is not executable (command[0]): chmod +x it, or name"
        ' its interpreter first, as in command = ["python3", "provider.py"]'
    )
    with pytest.raises(PluginError) as caught:
        make_provider(ScriptConfig(command=[str(tmp_path)]), context, INFO)
    assert (
        str(caught.value) == f"provider 'teacher': program {str(tmp_path)!r} is a directory, not a program (command[0])"
    )
    script.chmod(0o755)
    make_provider(ScriptConfig(command=["./provider.py"], cwd=str(script.parent)), context, INFO)
    with pytest.raises(PluginError) as caught:
        make_provider(ScriptConfig(command=["no-such-program-x", "--token", "tok-123"]), context, INFO)
    assert str(caught.value) == (
        "provider 'teacher': program 'no-such-program-x' not found on the child's PATH (command[0])"
    )
    with pytest.raises(PluginError, match=r"program '\./missing\.py' not found in '.*' \(command\[0\]\)"):
        make_provider(ScriptConfig(command=["./missing.py"], cwd=str(tmp_path)), context, INFO)
    with pytest.raises(PluginError, match=r"cwd '.*nowhere' is not a directory"):
        make_provider(ScriptConfig(command=["python3"], cwd=str(tmp_path / "nowhere")), context, INFO)
