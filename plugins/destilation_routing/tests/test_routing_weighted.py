"""Weighted random: frequencies follow weights, non-positive weights are skipped, seeds reproduce."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from destilation import ProviderInfo, Task, TaskSeed
from destilation_routing.weighted import WeightedConfig, WeightedRouter, pick_weighted


def provider(name: str, weight: float = 1.0, capabilities: tuple[str, ...] = ()) -> ProviderInfo:
    return ProviderInfo(name=name, kind="mock", model="m", capabilities=frozenset(capabilities), weight=weight)


def task(index: int = 0, **axes: str) -> Task:
    return Task(job="job", seed=TaskSeed(index=index, axes=axes))


DRAWS = 4000

weights_strategy = st.lists(
    st.one_of(st.just(0.0), st.floats(-5, 0), st.floats(0.05, 20)), min_size=1, max_size=6
).filter(lambda ws: any(w > 0 for w in ws))


@settings(max_examples=40, deadline=None)
@given(weights=weights_strategy, seed=st.integers(0, 2**32))
def test_frequencies_follow_weights(weights: list[float], seed: int) -> None:
    router = WeightedRouter(WeightedConfig(seed=seed))
    candidates = [provider(f"p{i}", w) for i, w in enumerate(weights)]
    counts = Counter(router.choose(task(), candidates).name for _ in range(DRAWS))
    total = sum(w for w in weights if w > 0)
    for i, w in enumerate(weights):
        name = f"p{i}"
        if w <= 0:
            assert counts[name] == 0, f"{name} has weight {w} and must never be chosen"
            continue
        expected = w / total
        # Loose: 5 standard deviations of a binomial share plus a small absolute slack.
        sd = (expected * (1 - expected) / DRAWS) ** 0.5
        assert abs(counts[name] / DRAWS - expected) <= 5 * sd + 0.01


@given(weights=st.lists(st.floats(-3, 10), min_size=1, max_size=6), seed=st.integers(0, 2**32))
def test_same_seed_same_choices(weights: list[float], seed: int) -> None:
    candidates = [provider(f"p{i}", w) for i, w in enumerate(weights)]
    first = WeightedRouter(WeightedConfig(seed=seed))
    second = WeightedRouter(WeightedConfig(seed=seed))
    assert [first.choose(task(), candidates).name for _ in range(50)] == [
        second.choose(task(), candidates).name for _ in range(50)
    ]


def test_different_seeds_give_different_sequences() -> None:
    candidates = [provider("a"), provider("b"), provider("c")]
    sequences = {
        tuple(router.choose(task(), candidates).name for _ in range(40))
        for router in (WeightedRouter(WeightedConfig(seed=s)) for s in range(4))
    }
    assert len(sequences) == 4


def test_all_non_positive_weights_choose_uniformly() -> None:
    router = WeightedRouter(WeightedConfig(seed=7))
    candidates = [provider("a", 0.0), provider("b", -1.0), provider("c", 0.0)]
    counts = Counter(router.choose(task(), candidates).name for _ in range(3000))
    assert set(counts) == {"a", "b", "c"}
    assert all(800 <= n <= 1200 for n in counts.values())


def test_default_config_is_seed_zero() -> None:
    candidates = [provider("a"), provider("b", 3.0)]
    default = WeightedRouter()
    seeded = WeightedRouter(WeightedConfig(seed=0))
    assert [default.choose(task(), candidates) for _ in range(30)] == [
        seeded.choose(task(), candidates) for _ in range(30)
    ]


class _Top(random.Random):
    """A draw at the very top of the range, where float rounding could overshoot the last weight."""

    def random(self) -> float:
        return 1.0


def test_overshooting_draw_lands_on_last_positive_weight() -> None:
    candidates = [provider("a", 0.1), provider("b", 0.2), provider("c", 0.0)]
    assert pick_weighted(_Top(), candidates).name == "b"


def test_observe_changes_nothing() -> None:
    candidates = [provider("a"), provider("b")]
    observed = WeightedRouter(WeightedConfig(seed=1))
    fresh = WeightedRouter(WeightedConfig(seed=1))
    observed.observe("a", True, 0.2)
    assert [observed.choose(task(), candidates) for _ in range(20)] == [
        fresh.choose(task(), candidates) for _ in range(20)
    ]
