"""The entry point registers every strategy, and the plugin manager finds it like a third party's."""

from __future__ import annotations

from destilation import Router
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_routing import plugin
from destilation_routing.capability import CapabilityConfig, CapabilityRouter
from destilation_routing.round_robin import RoundRobinRouter
from destilation_routing.weighted import WeightedConfig, WeightedRouter


def test_registers_the_three_strategies_with_their_configs() -> None:
    pm = make_plugin_manager(load=False, extra=[plugin])
    table = collect(pm).table("routers")
    assert {name: (reg.obj, reg.config) for name, reg in table.items()} == {
        "round_robin": (RoundRobinRouter, None),
        "weighted": (WeightedRouter, WeightedConfig),
        "capability": (CapabilityRouter, CapabilityConfig),
    }


def test_entry_point_is_discovered() -> None:
    pm = make_plugin_manager(allow=["routing"])
    assert pm.origins["routing"][0] == "destilation-routing"
    assert "round_robin" in collect(pm).table("routers")


def test_factories_build_routers_with_the_engine_signature() -> None:
    # The engine calls factory(config_or_None, context); the context is unused by these strategies.
    for router in (
        RoundRobinRouter(None, None),
        WeightedRouter(WeightedConfig(seed=3), None),
        CapabilityRouter(CapabilityConfig(), None),
    ):
        assert isinstance(router, Router)
