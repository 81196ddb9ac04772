"""Plugins reach every registration hook the way a third party would; a broken one is reported."""

from __future__ import annotations

import json
from typing import Any

import click
from click.testing import CliRunner

from destilation import hookimpl
from destilation.cli.main import make_cli
from destilation.domain import Event
from destilation.plugins import make_plugin_manager
from destilation.registry import collect


class RoutersAndSubscribers:
    @hookimpl
    def register_routers(self, register: Any) -> None:
        register("first", lambda config, context: "router-object")

    @hookimpl
    def register_subscribers(self, register: Any) -> None:
        register("collector", lambda context: EVENTS.append)


EVENTS: list[Event] = []


class Commands:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            """Say hello from a plugin."""
            click.echo("hello from a plugin")


class BrokenCommands:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        raise RuntimeError("cannot build my command")


def test_register_routers_and_register_subscribers_fill_the_registry() -> None:
    registry = collect(make_plugin_manager(load=False, extra=[RoutersAndSubscribers()]))
    assert registry.get("routers", "first").obj(None, None) == "router-object"
    subscriber = registry.get("subscribers", "collector").obj(None)
    subscriber(Event("job_started", "j"))
    assert EVENTS[-1].kind == "job_started"
    assert registry.get("subscribers", "progress").distribution == "destilation-core"


def test_register_commands_adds_a_plugin_command_to_destiler() -> None:
    pm = make_plugin_manager(load=False, extra=[Commands()])
    result = CliRunner().invoke(make_cli(pm), ["hello"])
    assert result.exit_code == 0
    assert result.output == "hello from a plugin\n"
    assert "hello" in CliRunner().invoke(make_cli(pm), ["--help"]).output


def test_a_broken_register_commands_is_reported_not_fatal() -> None:
    pm = make_plugin_manager(load=False, extra=[BrokenCommands()])
    cli = make_cli(pm)
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 2  # listed, and the failure makes `destiler plugins` fail
    report = json.loads(result.output)
    assert report["failed"][0]["error"] == "register_commands failed: RuntimeError: cannot build my command"
