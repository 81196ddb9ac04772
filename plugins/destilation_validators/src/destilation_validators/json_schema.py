"""The `json_schema` validator: safe JSON parsing, then the template's JSON schema.

It runs on every sample, so each template's schema is checked and compiled once, and the
parsed content is handed on in the verdict instead of being parsed again downstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from destilation import Candidate, PluginContext, PluginError, Template, ValidationContext, Verdict
from destilation_validators.fast_schema import Check, compile_fast
from destilation_validators.safe_json import parse_json
from destilation_validators.schema_hints import schema_issues

if TYPE_CHECKING:
    from jsonschema.protocols import Validator as SchemaValidator  # type: ignore[import-untyped]


@attrs.frozen
class JsonSchemaConfig:
    """Limits applied to model output before and while it is parsed."""

    max_bytes: int = attrs.field(default=1_000_000, validator=attrs.validators.ge(1))
    """Answers longer than this (UTF-8 bytes) are refused unparsed."""
    max_depth: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    """Deepest nesting of arrays and objects accepted."""
    max_issues: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    """Schema errors reported per answer; more would swamp the next prompt."""


@attrs.frozen
class _Compiled:
    schema: dict[str, Any]
    validator: SchemaValidator
    surely_valid: Check | None
    """A quick yes for most answers (see `fast_schema`); None when the schema is outside its subset."""


def compile_schema(template: Template) -> SchemaValidator:
    """A validator for the template's schema, after checking the schema against its metaschema."""
    import warnings

    from jsonschema import SchemaError, validators  # type: ignore[import-untyped]

    schema = template.schema
    name = f"template {template.id!r} (version {template.version})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # jsonschema only warns about an unknown $schema
            cls = validators.validator_for(schema)  # without $schema: the latest draft
    except Exception:  # a warning turned error today, an exception in later jsonschema releases
        raise PluginError(f"{name}: its JSON schema names an unknown $schema {schema.get('$schema')!r}") from None
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise PluginError(f"{name}: its JSON schema is invalid at {exc.json_path}: {exc.message}") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


class JsonSchemaValidator:
    """Parses the answer safely and checks it against the template's schema."""

    name = "json_schema"

    def __init__(self, config: JsonSchemaConfig | None, context: PluginContext) -> None:
        self.config = config or JsonSchemaConfig()
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        # Loaded while the job is wired, before worker processes fork, so they share the import
        # (about a fifth of a second of CPU here) instead of each repeating it at its first sample.
        import jsonschema  # type: ignore[import-untyped]  # noqa: F401

    def _compiled_for(self, template: Template) -> _Compiled:
        key = (template.id, template.version)
        compiled = self._compiled.get(key)
        # Identity first: a job keeps one template object. Equality guards a template file that
        # was edited without a new version while this process kept running.
        if compiled is None or (compiled.schema is not template.schema and compiled.schema != template.schema):
            compiled = _Compiled(template.schema, compile_schema(template), compile_fast(template.schema))
            self._compiled[key] = compiled
        return compiled

    async def check(self, candidate: Candidate, vctx: ValidationContext) -> Verdict:
        if candidate.parsed:
            content = candidate.content
        else:
            config = self.config
            parsed = parse_json(candidate.generation.text, max_bytes=config.max_bytes, max_depth=config.max_depth)
            if parsed.issue is not None:
                return Verdict(issues=(parsed.issue,))
            content = parsed.value
        compiled = self._compiled_for(vctx.template)
        if compiled.surely_valid is not None and compiled.surely_valid(content):
            return Verdict(content=content)
        errors = list(compiled.validator.iter_errors(content))
        if not errors:
            return Verdict(content=content)
        # The content parsed, so it is handed on even though the schema failed.
        return Verdict(issues=schema_issues(errors, self.config.max_issues), content=content)
