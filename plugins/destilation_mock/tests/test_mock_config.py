"""MockConfig: defaults, and clear errors for rates and latencies out of range."""

from __future__ import annotations

import math

import cattrs
import pytest

from destilation_mock.config import MockConfig


def test_every_field_has_a_default() -> None:
    config = MockConfig()
    assert (config.latency_ms, config.failure_rate, config.garbage_rate, config.truncation_rate, config.seed) == (
        0.0,
        0.0,
        0.0,
        0.0,
        0,
    )
    assert config.repeat == config.reasoning_breakage == config.schema_breakage == 0.0


@pytest.mark.parametrize(
    "field", ["failure_rate", "garbage_rate", "truncation_rate", "repeat", "reasoning_breakage", "schema_breakage"]
)
@pytest.mark.parametrize("value", [-0.01, 1.01, math.nan, "0.5", True])
def test_rates_outside_zero_to_one_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be a number between 0 and 1, got "):
        MockConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "field", ["failure_rate", "garbage_rate", "truncation_rate", "repeat", "reasoning_breakage", "schema_breakage"]
)
@pytest.mark.parametrize("value", [0, 0.0, 0.5, 1, 1.0])
def test_rates_at_and_inside_the_limits_are_accepted(field: str, value: float) -> None:
    assert getattr(MockConfig(**{field: value}), field) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1.0, math.inf, math.nan, "5", False])
def test_bad_latency_is_rejected(value: object) -> None:
    with pytest.raises(ValueError, match=r"^latency_ms must be a finite number of milliseconds, 0 or more, got "):
        MockConfig(latency_ms=value)  # type: ignore[arg-type]


def test_structures_from_a_toml_table_and_rejects_unknown_keys() -> None:
    # The core fills configs through cattrs with unknown keys forbidden; the validators still run.
    converter = cattrs.Converter(forbid_extra_keys=True)
    assert converter.structure({"latency_ms": 5, "failure_rate": 0.25, "seed": 3}, MockConfig) == MockConfig(
        latency_ms=5, failure_rate=0.25, seed=3
    )
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure({"failure_rat": 0.2}, MockConfig)
    with pytest.raises(cattrs.ClassValidationError) as info:
        converter.structure({"garbage_rate": 2}, MockConfig)
    assert "garbage_rate must be a number between 0 and 1, got 2" in repr(info.value.exceptions)


@pytest.mark.parametrize("value", [-0.01, math.inf, math.nan, "0.5", True])
def test_a_bad_cost_per_request_is_rejected(value: object) -> None:
    with pytest.raises(ValueError, match=r"^cost_per_request must be a finite number of USD, 0 or more, got "):
        MockConfig(cost_per_request=value)  # type: ignore[arg-type]


def test_answers_report_the_cost_per_request() -> None:
    import anyio

    from destilation import GenerationRequest, Message, ProviderInfo
    from destilation_mock.provider import MockProvider

    provider = MockProvider(MockConfig(cost_per_request=0.25), None, ProviderInfo(name="m", kind="mock", model=""))
    answer = anyio.run(provider.generate, GenerationRequest(messages=(Message("user", "hi"),)))
    assert answer.cost == 0.25
    assert MockConfig().cost_per_request == 0.0
