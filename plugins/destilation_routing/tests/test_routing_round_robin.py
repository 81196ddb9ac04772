"""Round-robin: strict order and exact fairness."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from destilation import ProviderInfo, Task, TaskSeed
from destilation_routing.round_robin import RoundRobinRouter


def provider(name: str, weight: float = 1.0, capabilities: tuple[str, ...] = ()) -> ProviderInfo:
    return ProviderInfo(name=name, kind="mock", model="m", capabilities=frozenset(capabilities), weight=weight)


def task(index: int = 0, **axes: str) -> Task:
    return Task(job="job", seed=TaskSeed(index=index, axes=axes))


def test_cycles_in_order() -> None:
    router = RoundRobinRouter()
    candidates = [provider("a"), provider("b"), provider("c")]
    names = [router.choose(task(i), candidates).name for i in range(7)]
    assert names == ["a", "b", "c", "a", "b", "c", "a"]


@given(n=st.integers(1, 8), rounds=st.integers(1, 20), offset=st.integers(0, 30))
def test_every_candidate_gets_exactly_its_share(n: int, rounds: int, offset: int) -> None:
    router = RoundRobinRouter()
    candidates = [provider(f"p{i}") for i in range(n)]
    for _ in range(offset):  # a router that has already served other calls stays fair
        router.choose(task(), candidates)
    counts = Counter(router.choose(task(), candidates).name for _ in range(n * rounds))
    assert counts == {f"p{i}": rounds for i in range(n)}


def test_single_candidate_and_changing_candidate_sets() -> None:
    router = RoundRobinRouter()
    only = provider("only")
    assert all(router.choose(task(), [only]) is only for _ in range(5))
    # A provider dropping out of the healthy set does not stop the rotation over the rest.
    pair = [provider("a"), provider("b")]
    assert {router.choose(task(), pair).name for _ in range(2)} == {"a", "b"}


def test_counter_wraps_without_breaking_the_cycle() -> None:
    router = RoundRobinRouter()
    router._turn = 0xFFFFFFFF
    candidates = [provider("a"), provider("b")]
    first = router.choose(task(), candidates)
    assert router._turn == 0
    assert router.choose(task(), candidates) is candidates[0]
    assert first is candidates[0xFFFFFFFF % 2]


def test_observe_changes_nothing() -> None:
    router = RoundRobinRouter()
    candidates = [provider("a"), provider("b")]
    router.observe("a", False, 1.5)
    assert router.choose(task(), candidates).name == "a"
