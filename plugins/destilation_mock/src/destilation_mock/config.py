"""The mock provider's settings, checked when the config file is loaded."""

from __future__ import annotations

import math
from typing import Any

import attrs


def _rate(instance: Any, attribute: attrs.Attribute[float], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be a number between 0 and 1, got {value!r}")


def _latency(instance: Any, attribute: attrs.Attribute[float], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number of milliseconds, 0 or more, got {value!r}")


def _cost(instance: Any, attribute: attrs.Attribute[float], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number of USD, 0 or more, got {value!r}")


@attrs.frozen
class MockConfig:
    """Rates are probabilities per call: failure first, then garbage, then truncation.

    `repeat` is the share of answers that are near-copies of one fixed answer, each with a word
    changed: what a model stuck on one answer does, for near-duplicate checks to catch.
    `cost_per_request` is what each answer reports it cost (USD), so budgets can be tried for free.
    """

    latency_ms: float = attrs.field(default=0.0, validator=_latency)
    failure_rate: float = attrs.field(default=0.0, validator=_rate)
    garbage_rate: float = attrs.field(default=0.0, validator=_rate)
    truncation_rate: float = attrs.field(default=0.0, validator=_rate)
    repeat: float = attrs.field(default=0.0, validator=_rate)
    moe_breakage: float = attrs.field(default=0.0, validator=_rate)
    """Share of the `moe` mode's calls answered broken (an unknown label, a silent expert, no answer)."""
    reasoning_breakage: float = attrs.field(default=0.0, validator=_rate)
    """Share of reasoning requests answered broken (blank answer, thin trace, cut off): `destilation_mock.broken`."""
    schema_breakage: float = attrs.field(default=0.0, validator=_rate)
    """Share of other answers that leave out a required property, as a custom template's schema catches."""
    tool_breakage: float = attrs.field(default=0.0, validator=_rate)
    """Share of the `tools` mode's turns answered broken (an unknown tool, misfit arguments, no answer)."""
    seed: int = 0
    cost_per_request: float = attrs.field(default=0.0, validator=_cost)
