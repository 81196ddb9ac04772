"""Capability routing: first matching rule, filtering, per-rule rotation, the no-provider error."""

from __future__ import annotations

from collections import Counter

import attrs
import cattrs
import pytest

from destilation import DestilationError, ProviderInfo, Task, TaskSeed
from destilation_routing.capability import CapabilityConfig, CapabilityRouter, CapabilityRule


def provider(name: str, weight: float = 1.0, capabilities: tuple[str, ...] = ()) -> ProviderInfo:
    return ProviderInfo(name=name, kind="mock", model="m", capabilities=frozenset(capabilities), weight=weight)


def task(index: int = 0, **axes: str) -> Task:
    return Task(job="job", seed=TaskSeed(index=index, axes=axes))


BASIC = provider("basic", capabilities=("json_schema",))
THINKER = provider("thinker", capabilities=("json_schema", "reasoning"))
AGENT = provider("agent", capabilities=("json_schema", "reasoning", "tools"))
ALL = [BASIC, THINKER, AGENT]


def router(*rules: CapabilityRule, **config: object) -> CapabilityRouter:
    return CapabilityRouter(CapabilityConfig(rules=list(rules), **config))  # type: ignore[arg-type]


def test_no_rules_rotates_over_every_candidate() -> None:
    r = CapabilityRouter()
    assert [r.choose(task(), ALL).name for _ in range(4)] == ["basic", "thinker", "agent", "basic"]


def test_matching_rule_skips_providers_lacking_a_capability() -> None:
    r = router(CapabilityRule(when={"mode": "reasoning"}, require=["reasoning"]))
    picks = [r.choose(task(mode="reasoning"), ALL).name for _ in range(4)]
    assert picks == ["thinker", "agent", "thinker", "agent"]


def test_every_when_value_must_match() -> None:
    r = router(CapabilityRule(when={"mode": "agent", "level": "hard"}, require=["tools"]))
    assert {r.choose(task(mode="agent", level="hard"), ALL).name for _ in range(3)} == {"agent"}
    # One axis differs or is absent: the rule does not apply and all candidates rotate.
    assert {r.choose(task(mode="agent", level="easy"), ALL).name for _ in range(3)} == {"basic", "thinker", "agent"}
    assert {r.choose(task(mode="agent"), ALL).name for _ in range(3)} == {"basic", "thinker", "agent"}


def test_first_matching_rule_decides() -> None:
    r = router(
        CapabilityRule(when={"mode": "reasoning"}, require=["reasoning"]),
        CapabilityRule(when={}, require=["tools"]),
    )
    assert {r.choose(task(mode="reasoning"), ALL).name for _ in range(4)} == {"thinker", "agent"}
    # The catch-all second rule applies to everything else.
    assert {r.choose(task(mode="simple"), ALL).name for _ in range(4)} == {"agent"}


def test_rule_without_requirements_uses_all_candidates() -> None:
    r = router(CapabilityRule(when={"mode": "simple"}, require=[]))
    assert {r.choose(task(mode="simple"), ALL).name for _ in range(3)} == {"basic", "thinker", "agent"}


def test_alternating_rules_keep_each_rotation_fair() -> None:
    # A single shared counter would hand rule one's tasks always to the same provider here.
    r = router(
        CapabilityRule(when={"mode": "reasoning"}, require=["reasoning"]),
        CapabilityRule(when={"mode": "simple"}, require=["json_schema"]),
    )
    reasoning: Counter[str] = Counter()
    for _ in range(20):
        reasoning[r.choose(task(mode="reasoning"), ALL).name] += 1
        r.choose(task(mode="simple"), ALL)
    assert reasoning == {"thinker": 10, "agent": 10}


def test_no_qualifying_provider_raises_one_line_naming_task_and_capabilities() -> None:
    r = router(CapabilityRule(when={"mode": "agent"}, require=["tools", "vision"]))
    with pytest.raises(DestilationError) as info:
        r.choose(task(7, mode="agent"), [BASIC, AGENT])
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "task job/7: no healthy provider declares all of tools, vision (required by routing rule 1); "
        "basic lacks tools, vision; agent lacks vision"
    )


def test_weighted_fallback_follows_weights_among_qualifying() -> None:
    heavy = provider("heavy", weight=9.0, capabilities=("reasoning",))
    light = provider("light", weight=1.0, capabilities=("reasoning",))
    r = router(CapabilityRule(when={}, require=["reasoning"]), fallback="weighted", seed=5)
    counts = Counter(r.choose(task(), [BASIC, heavy, light]).name for _ in range(2000))
    assert set(counts) == {"heavy", "light"}
    assert 0.85 <= counts["heavy"] / 2000 <= 0.95
    again = router(CapabilityRule(when={}, require=["reasoning"]), fallback="weighted", seed=5)
    assert Counter(again.choose(task(), [BASIC, heavy, light]).name for _ in range(2000)) == counts


def test_unknown_fallback_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match=r"'fallback' must be in \('round_robin', 'weighted'\)"):
        CapabilityConfig(fallback="cheapest")


def test_config_structures_from_toml_shaped_data() -> None:
    # The core fills configs with cattrs and forbids unknown keys; the nested rules must survive that.
    converter = cattrs.Converter(forbid_extra_keys=True)
    raw = {"rules": [{"when": {"mode": "reasoning"}, "require": ["reasoning"]}], "fallback": "weighted", "seed": 3}
    config = converter.structure(raw, CapabilityConfig)
    assert config == CapabilityConfig(
        rules=[CapabilityRule(when={"mode": "reasoning"}, require=["reasoning"])], fallback="weighted", seed=3
    )
    assert attrs.asdict(converter.structure({}, CapabilityConfig)) == {
        "rules": [],
        "fallback": "round_robin",
        "seed": 0,
    }


def test_observe_changes_nothing() -> None:
    r = CapabilityRouter()
    r.observe("basic", False, 3.0)
    assert r.choose(task(), ALL).name == "basic"
