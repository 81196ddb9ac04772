"""Entry point of destilation-routing: registers the strategies by name."""

from __future__ import annotations

from destilation import RouterRegistrar, hookimpl


@hookimpl
def register_routers(register: RouterRegistrar) -> None:
    # Imported here so loading the entry point (e.g. for `destiler --help`) stays cheap.
    from destilation_routing.capability import CapabilityConfig, CapabilityRouter
    from destilation_routing.round_robin import RoundRobinRouter
    from destilation_routing.weighted import WeightedConfig, WeightedRouter

    register("round_robin", RoundRobinRouter)
    register("weighted", WeightedRouter, config=WeightedConfig)
    register("capability", CapabilityRouter, config=CapabilityConfig)
