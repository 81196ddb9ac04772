"""The provider keys that configure the call policy: defaults, checks and one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from destilation.config import ModelLimits, ProviderSpec, load_job, structure
from destilation.errors import ConfigError


def provider(**keys: Any) -> ProviderSpec:
    return structure({"kind": "mock", **keys}, ProviderSpec, source="job.toml", path="$.providers.teacher")


def test_pacing_defaults() -> None:
    spec = provider()
    assert (spec.max_retries, spec.deadline_s, spec.requests_per_minute, spec.tokens_per_minute) == (
        8,
        600.0,
        None,
        None,
    )
    assert (spec.adaptive, spec.breaker_failures, spec.breaker_cooldown_s, spec.model_limits) == (True, 5, 30.0, {})


def test_pacing_keys_are_core_fields_and_the_rest_stays_the_plugins() -> None:
    spec = provider(
        requests_per_minute=20,
        tokens_per_minute=40_000,
        adaptive=False,
        max_retries=0,
        model_limits={"big": {"concurrency": 2, "requests_per_minute": 5}},
        failure_rate=0.5,
    )
    assert (spec.requests_per_minute, spec.tokens_per_minute, spec.adaptive, spec.max_retries) == (20, 40_000, False, 0)
    assert spec.model_limits == {"big": ModelLimits(concurrency=2, requests_per_minute=5)}
    assert spec.options == {"failure_rate": 0.5}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"max_retries": -1}, "$.providers.teacher.max_retries: must be >= 0: -1"),
        ({"deadline_s": 0}, "$.providers.teacher.deadline_s: must be > 0: 0.0"),
        ({"requests_per_minute": 0}, "$.providers.teacher.requests_per_minute: must be >= 1: 0"),
        ({"tokens_per_minute": -5}, "$.providers.teacher.tokens_per_minute: must be >= 1: -5"),
        ({"breaker_failures": 0}, "$.providers.teacher.breaker_failures: must be >= 1: 0"),
        ({"breaker_cooldown_s": -1.0}, "$.providers.teacher.breaker_cooldown_s: must be > 0: -1.0"),
        ({"adaptive": "no"}, "$.providers.teacher.adaptive: expected true or false, got a string"),
        ({"adaptive": 1}, "$.providers.teacher.adaptive: expected true or false, got an integer"),
        ({"model_limits": {"m": 3}}, "$.providers.teacher.model_limits.m: expected a table of limits, got an integer"),
        ({"model_limits": {"m": {"rpm": 3}}}, "$.providers.teacher.model_limits.m.rpm: unknown key"),
        (
            {"model_limits": {"m": {"concurrency": 0}}},
            "$.providers.teacher.model_limits.m.concurrency: must be >= 1: 0",
        ),
    ],
)
def test_bad_pacing_values_are_one_line_errors_naming_the_key(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        provider(**keys)
    assert str(caught.value) == f"job.toml: {message}"


def test_a_job_file_sets_model_limits_as_tables(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(
        'name = "paced"\n[providers.teacher]\nkind = "mock"\nrequests_per_minute = 60\n'
        '[providers.teacher.model_limits."org/big-model"]\ntokens_per_minute = 9000\n'
    )
    spec = load_job(job).spec.providers["teacher"]
    assert spec.requests_per_minute == 60
    assert spec.model_limits == {"org/big-model": ModelLimits(tokens_per_minute=9000)}
