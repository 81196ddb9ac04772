"""The plugin registers its six validators, by hand and through entry-point discovery."""

from __future__ import annotations

from typing import Any

from destilation import PluginContext
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_validators import plugin
from destilation_validators.exact_dedup import ExactDedupValidator
from destilation_validators.json_schema import JsonSchemaConfig, JsonSchemaValidator
from destilation_validators.judge import JudgeValidator
from destilation_validators.judge_config import Criterion, JudgeConfig
from destilation_validators.near_dup import NearDupConfig, NearDupValidator
from destilation_validators.rules import RulesConfig, RulesValidator
from destilation_validators.truncation import TruncationConfig, TruncationValidator

EXPECTED = {
    "truncation": (TruncationValidator, TruncationConfig),
    "json_schema": (JsonSchemaValidator, JsonSchemaConfig),
    "rules": (RulesValidator, RulesConfig),
    "exact_dedup": (ExactDedupValidator, None),
    "near_dup": (NearDupValidator, NearDupConfig),
    "judge": (JudgeValidator, JudgeConfig),
}
REQUIRED: dict[type, Any] = {JudgeConfig: {"provider": "judge", "rubric": [Criterion("clear", "Is it clear?")]}}
"""Options a config class cannot do without."""


def test_hook_registers_every_validator_with_its_config() -> None:
    seen: dict[str, tuple[Any, Any]] = {}

    def register(name: str, factory: Any, *, config: type | None = None) -> None:
        seen[name] = (factory, config)

    plugin.register_validators(register)
    assert seen == EXPECTED


def test_factories_build_validators_named_as_registered(context: PluginContext) -> None:
    registry = collect(make_plugin_manager(load=False, extra=[plugin]))
    for name, (factory, config_cls) in EXPECTED.items():
        registration = registry.get("validators", name)
        assert registration.obj is factory
        config = config_cls(**REQUIRED.get(config_cls, {})) if config_cls is not None else None
        validator = registration.obj(config, context)
        assert validator.name == name


def test_discovered_through_its_entry_point() -> None:
    pm = make_plugin_manager(allow=["validators"], disable=[])
    assert not pm.load_failures
    registration = collect(pm).get("validators", "json_schema")
    assert registration.distribution == "destilation-validators"


def test_none_config_means_defaults(context: PluginContext) -> None:
    assert TruncationValidator(None, context).config == TruncationConfig()
    assert JsonSchemaValidator(None, context).config == JsonSchemaConfig()
    assert RulesValidator(None, context).config == RulesConfig()
    assert NearDupValidator(None, context).config == NearDupConfig()
