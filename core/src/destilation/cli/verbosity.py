"""`-v` and `-q` for the commands that run a job: how much the person sees while it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from destilation.cli.state import CliState
from destilation.errors import ConfigError

F = TypeVar("F", bound=Callable[..., object])


def _set(level: int) -> Callable[[click.Context, click.Parameter, bool], None]:
    def set_level(ctx: click.Context, _param: click.Parameter, given: bool) -> None:
        if given:
            state = ctx.find_object(CliState)
            assert state is not None, "the destiler group sets its state first"
            if state.verbosity not in (0, level):
                raise ConfigError("-v/-q", "choose one: -v shows more, -q shows only the result")
            state.verbosity = level

    return set_level


def verbosity_options(command: F) -> F:
    """Add `-v` (each provider error as it happens) and `-q` (only the result line)."""
    quiet = click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=_set(-1), help="Show only the result line."
    )
    verbose = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set(1),
        help="Also show each provider error as it happens, one line each.",
    )
    return verbose(quiet(command))
