"""Capability-based routing: rules over a task's axes decide which capabilities its provider needs.

Example job config::

    [routing]
    strategy = "capability"
    [[routing.rules]]
    when = { mode = "reasoning" }
    require = ["reasoning"]
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from destilation import DestilationError, PluginContext, ProviderInfo, Task
from destilation_routing.round_robin import RoundRobinRouter
from destilation_routing.weighted import WeightedConfig, WeightedRouter

FALLBACKS = ("round_robin", "weighted")


@attrs.frozen
class CapabilityRule:
    """When every `when` axis value matches the task's, the provider must declare all of `require`."""

    when: dict[str, str] = attrs.field(factory=dict)
    require: list[str] = attrs.field(factory=list)


@attrs.frozen
class CapabilityConfig:
    """Rules are tried in order; the first match decides. `fallback` picks among qualifying providers.

    `seed` seeds the `weighted` fallback; round-robin ignores it.
    """

    rules: list[CapabilityRule] = attrs.field(factory=list)
    fallback: str = attrs.field(default="round_robin", validator=attrs.validators.in_(FALLBACKS))
    seed: int = 0


class _Plan:
    """One rule prepared for the hot path: axis pairs to compare and the capability set to require."""

    __slots__ = ("label", "pick", "require", "when")

    def __init__(self, when: dict[str, str], require: list[str], label: str, pick: RoundRobinRouter | WeightedRouter):
        self.when = tuple(when.items())
        self.require = frozenset(require)
        self.label = label
        # A picker per rule: a shared round-robin counter would starve candidates when tasks of
        # different rules alternate (each rule would keep seeing the same counter parity).
        self.pick = pick


class CapabilityRouter:
    """Filters the healthy candidates by the first matching rule, then hands the rest to the fallback."""

    __slots__ = ("_default", "_plans")

    def __init__(self, config: CapabilityConfig | None = None, context: PluginContext | None = None) -> None:
        config = config or CapabilityConfig()

        def picker() -> RoundRobinRouter | WeightedRouter:
            if config.fallback == "weighted":
                return WeightedRouter(WeightedConfig(seed=config.seed))
            return RoundRobinRouter()

        self._plans = tuple(
            _Plan(rule.when, rule.require, f"routing rule {number}", picker())
            for number, rule in enumerate(config.rules, start=1)
        )
        # Tasks no rule matches need nothing beyond what the engine already filtered for.
        self._default = _Plan({}, [], "no routing rule", picker())

    def _plan_for(self, task: Task) -> _Plan:
        axes = task.seed.axes
        for plan in self._plans:
            for axis, value in plan.when:
                if axes.get(axis) != value:
                    break
            else:
                return plan
        return self._default

    def choose(self, task: Task, candidates: Sequence[ProviderInfo]) -> ProviderInfo:
        plan = self._plan_for(task)
        require = plan.require
        if not require:
            return plan.pick.choose(task, candidates)
        qualified = [info for info in candidates if require <= info.capabilities]
        if not qualified:
            raise DestilationError(_no_provider_message(task, plan, candidates))
        return plan.pick.choose(task, qualified)

    def observe(self, provider: str, ok: bool, latency_s: float) -> None:
        """Capabilities are declared, not learned; outcomes change nothing here."""


def _no_provider_message(task: Task, plan: _Plan, candidates: Sequence[ProviderInfo]) -> str:
    """One line: the task, the rule, what it requires and what each healthy provider lacks."""
    lacking = "; ".join(
        f"{info.name} lacks {', '.join(sorted(plan.require - info.capabilities))}" for info in candidates
    )
    required = ", ".join(sorted(plan.require))
    return f"task {task.key}: no healthy provider declares all of {required} (required by {plan.label}); {lacking}"
