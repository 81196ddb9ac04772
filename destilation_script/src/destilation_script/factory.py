"""Builds a script provider from its config: the child's environment, nothing started yet.

`destiler check` builds every provider without sending a request, so building one starts no
program: the child starts, and says hello, on the first request (or `models()`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from destilation import PluginContext, PluginError, ProviderInfo
from destilation_script.config import ScriptConfig
from destilation_script.notices import Notices
from destilation_script.provider import ScriptProvider

BASE_ENV = ("PATH", "HOME", "LANG")
"""The only variables of destiler's own environment a child sees, besides its `env` table."""


def child_env(config: ScriptConfig, parent: Mapping[str, str]) -> dict[str, str]:
    """A minimal base plus the configured variables; secrets are revealed here, into the child only."""
    env = {key: parent[key] for key in BASE_ENV if key in parent}
    env.update({key: value.reveal() for key, value in config.env.items()})
    return env


def _check_program(name: str, config: ScriptConfig, env: Mapping[str, str]) -> None:
    """Refuse a program that cannot be found, at build time, so `check` says so without starting it."""
    program, cwd = config.argv[0], Path(config.cwd) if config.cwd else Path.cwd()
    if config.cwd is not None and not cwd.is_dir():
        raise PluginError(f"provider '{name}': cwd {config.cwd!r} is not a directory")
    # Only the program is named, never the arguments: they may carry a token.
    if os.sep in program:
        path = cwd / program
        if not path.exists():
            raise PluginError(f"provider '{name}': program {program!r} not found in {str(cwd)!r} (command[0])")
        if not path.is_file():
            raise PluginError(f"provider '{name}': program {program!r} is a directory, not a program (command[0])")
        if not os.access(path, os.X_OK):
            raise PluginError(
                f"provider '{name}': program {program!r} is not executable (command[0]): chmod +x it, or name"
                ' its interpreter first, as in command = ["python3", "provider.py"]'
            )
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise PluginError(f"provider '{name}': program {program!r} not found on the child's PATH (command[0])")


def make_provider(config: ScriptConfig, context: PluginContext, info: ProviderInfo) -> ScriptProvider:
    env = child_env(config, os.environ)
    _check_program(info.name, config, env)
    return ScriptProvider(config, info, env, Notices(info.name, context.emit, config.stderr_lines_per_minute))
