"""The template format: what a sample looks like and how to ask a model for one.

A template is data (id, version, mode, JSON schema, prompts, few-shot examples, default
validators), so built-in templates and users' TOML files are the same thing.
"""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from destilation.domain import JSON, Issue, Message, TaskSeed
from destilation.errors import ConfigError


@attrs.frozen
class FewShot:
    """One worked example: the variables of a seed and the output a model should give."""

    variables: dict[str, JSON]
    output: dict[str, JSON]


@attrs.frozen
class Template:
    """A sample shape and the prompts that ask for it.

    `user_prompt` is a ``str.format`` pattern over the seed's variables (``{topic}``, ``{index}``,
    any input column). `capabilities` are what a provider must declare to serve it.
    """

    id: str
    version: str
    mode: str
    schema: dict[str, JSON]
    system_prompt: str
    user_prompt: str
    few_shot: tuple[FewShot, ...] = ()
    default_validators: tuple[str, ...] = ("truncation", "json_schema", "exact_dedup")
    capabilities: tuple[str, ...] = ("json_schema",)
    description: str = ""

    def fields(self) -> list[str]:
        """Variable names the user prompt refers to."""
        return [name for _, name, _, _ in string.Formatter().parse(self.user_prompt) if name]

    @functools.cached_property
    def preamble(self) -> tuple[Message, ...]:
        """System prompt and few-shot turns: the same for every task, so built once."""
        schema_text = json.dumps(self.schema, separators=(",", ":"))
        system = f"{self.system_prompt}\n\nAnswer with one JSON object only, matching this JSON schema:\n{schema_text}"
        messages: list[Message] = [Message("system", system)]
        for shot in self.few_shot:
            messages.append(Message("user", _format(self.user_prompt, shot.variables)))
            messages.append(Message("assistant", json.dumps(shot.output, ensure_ascii=False)))
        return tuple(messages)

    def render(self, seed: TaskSeed, feedback: Sequence[Issue] = ()) -> tuple[Message, ...]:
        """The chat messages for one attempt at `seed`; feedback lists the last attempt's issues."""
        messages = [*self.preamble, Message("user", _format(self.user_prompt, seed.variables()))]
        if feedback:
            lines = "\n".join(f"- {issue.as_feedback()}" for issue in feedback)
            messages.append(
                Message("user", f"Your previous answer was rejected:\n{lines}\nAnswer again, fixing these problems.")
            )
        return tuple(messages)


class _Blank(dict[str, Any]):
    """Leaves an unknown ``{name}`` as it was instead of raising, so a prompt never crashes a task."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(pattern: str, variables: Mapping[str, JSON]) -> str:
    return pattern.format_map(_Blank(variables))


@attrs.frozen
class _TemplateFile:
    """The shape of a custom template file; `schema` is a TOML table holding the JSON schema."""

    id: str
    schema: dict[str, JSON]
    user_prompt: str
    system_prompt: str = "You write high-quality training data."
    version: str = "1"
    mode: str = "custom"
    """A registered mode's name; checked against the registry when the job is wired."""
    few_shot: list[FewShot] = attrs.field(factory=list)
    default_validators: list[str] = attrs.field(factory=lambda: ["truncation", "json_schema", "exact_dedup"])
    capabilities: list[str] = attrs.field(factory=lambda: ["json_schema"])
    description: str = ""


def load_template_file(path: str) -> Template:
    """Read a user's template from a TOML file; errors name the file and the key."""
    from pathlib import Path

    from destilation.config import read_toml, structure

    raw = read_toml(Path(path))
    spec = structure(raw, _TemplateFile, source=path)
    schema_problem = schema_error(spec.schema)
    if schema_problem is not None:
        where, message = schema_problem
        raise ConfigError(path, message, f"$.schema{where}")
    return Template(
        id=spec.id,
        version=spec.version,
        mode=spec.mode,
        schema=spec.schema,
        system_prompt=spec.system_prompt,
        user_prompt=spec.user_prompt,
        few_shot=tuple(spec.few_shot),
        default_validators=tuple(spec.default_validators),
        capabilities=tuple(spec.capabilities),
        description=spec.description,
    )


def schema_error(schema: Mapping[str, JSON]) -> tuple[str, str] | None:
    """Where a template's schema breaks its JSON Schema metaschema (a key path below it) and how.

    Checked when a template is resolved, so `check` and `run` refuse a schema no validator could
    compile before a model is asked for it. Returns None for a valid schema.
    """
    import warnings

    from jsonschema import SchemaError, validators  # type: ignore[import-untyped]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # jsonschema only warns about an unknown $schema
            cls = validators.validator_for(schema)  # without $schema: the latest draft
    except Exception:  # a warning turned error today, an exception in later jsonschema releases
        return ".$schema", f"unknown JSON schema dialect {schema.get('$schema')!r}"
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        return exc.json_path[1:], f"not a valid JSON schema: {exc.message}"
    return None
