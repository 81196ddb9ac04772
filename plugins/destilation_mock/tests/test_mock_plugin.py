"""The entry point registers the `mock` provider kind with its config class."""

from __future__ import annotations

from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_mock import plugin
from destilation_mock.config import MockConfig
from destilation_mock.judge import MockJudge, MockJudgeConfig
from destilation_mock.provider import MockProvider


def test_registers_mock_with_its_config() -> None:
    table = collect(make_plugin_manager(load=False, extra=[plugin])).table("providers")
    registration = table["mock"]
    assert (registration.obj, registration.config) == (MockProvider, MockConfig)
    judge = table["mock_judge"]
    assert (judge.obj, judge.config) == (MockJudge, MockJudgeConfig)


def test_entry_point_is_discovered() -> None:
    pm = make_plugin_manager(allow=["mock"])
    assert pm.origins["mock"][0] == "destilation-mock"
    assert "mock" in collect(pm).table("providers")
