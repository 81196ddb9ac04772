"""Entry point of destilation-validators: registers each validator with its config class.

The validator modules import only the standard library and `destilation` at load time;
jsonschema is imported when the first schema is compiled, so discovery stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from destilation import ValidatorRegistrar, hookimpl

if TYPE_CHECKING:
    from typing import Any


@hookimpl
def register_validators(register: ValidatorRegistrar) -> None:
    from destilation_validators.exact_dedup import ExactDedupValidator
    from destilation_validators.json_schema import JsonSchemaConfig, JsonSchemaValidator
    from destilation_validators.judge import JudgeValidator
    from destilation_validators.judge_config import JudgeConfig
    from destilation_validators.near_dup import NearDupConfig, NearDupValidator
    from destilation_validators.rules import RulesConfig, RulesValidator
    from destilation_validators.truncation import TruncationConfig, TruncationValidator

    table: tuple[tuple[str, Any, type | None], ...] = (
        ("truncation", TruncationValidator, TruncationConfig),
        ("json_schema", JsonSchemaValidator, JsonSchemaConfig),
        ("rules", RulesValidator, RulesConfig),
        ("exact_dedup", ExactDedupValidator, None),
        ("near_dup", NearDupValidator, NearDupConfig),
        ("judge", JudgeValidator, JudgeConfig),
    )
    for name, factory, config in table:
        register(name, factory, config=config)
