"""Weighted random: providers get traffic in proportion to their configured `weight`."""

from __future__ import annotations

import random
from collections.abc import Sequence

import attrs

from destilation import PluginContext, ProviderInfo, Task


@attrs.frozen
class WeightedConfig:
    """`seed` makes the sequence of choices reproducible for a given sequence of calls."""

    seed: int = 0


def pick_weighted(rng: random.Random, candidates: Sequence[ProviderInfo]) -> ProviderInfo:
    """Draw one candidate with probability weight / total, ignoring weights ≤ 0.

    When no weight is positive every candidate is equally likely. One draw from `rng` per call,
    whichever branch runs, so the stream stays aligned with the call sequence.
    """
    total = 0.0
    for info in candidates:
        if info.weight > 0:
            total += info.weight
    draw = rng.random()
    if total <= 0:
        return candidates[int(draw * len(candidates))]
    point = draw * total
    chosen = candidates[0]
    for info in candidates:
        weight = info.weight
        if weight > 0:
            chosen = info
            if point < weight:
                return info
            point -= weight
    # Float rounding can leave `point` a hair past the last positive weight: that one it is.
    return chosen


class WeightedRouter:
    """Weighted random choice with its own `random.Random`, never the global one."""

    __slots__ = ("_rng",)

    def __init__(self, config: WeightedConfig | None = None, context: PluginContext | None = None) -> None:
        self._rng = random.Random((config or WeightedConfig()).seed)

    def choose(self, task: Task, candidates: Sequence[ProviderInfo]) -> ProviderInfo:
        return pick_weighted(self._rng, candidates)

    def observe(self, provider: str, ok: bool, latency_s: float) -> None:
        """Weights are static configuration; outcomes do not move them."""
