"""The `reasoning` mode: a reasoning trace and a final answer, checked by the mode's own rules.

One request per attempt, asking the provider for its native reasoning (OpenRouter `reasoning`,
vLLM/DeepSeek `reasoning_content`, Ollama `thinking`: the providers put it in
`Generation.reasoning`). A native trace goes into the sample's reasoning field, so every line
carries it in the same place; a provider without one writes the trace in that schema field
itself, as the template's prompt asks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from destilation import Generation, ModeContext, PluginContext, Production, Validator
from destilation_templates.reasoning_rules import AnswerPresent, NotTruncated, ReasoningSteps, steps_of


def _name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"'{attribute.name}' must name a content field, got {value!r}")


@attrs.frozen
class ReasoningConfig:
    """The job's ``[mode]`` table for a template in `reasoning` mode."""

    min_steps: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    """Fewest reasoning steps: non-blank lines of a text trace, or non-blank items of a list."""
    min_chars: int = attrs.field(default=40, validator=attrs.validators.ge(0))
    """Fewest characters of reasoning, not counting surrounding whitespace."""
    field: str = attrs.field(default="reasoning", validator=_name)
    """The content field that holds the trace: filled from native reasoning, else written by the model."""
    answer: str = attrs.field(default="answer", validator=_name)
    """The content field that holds the final answer."""
    native: bool = True
    """Ask providers for native reasoning; false for a model that refuses it (an Ollama model that cannot think)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, unless a key repeats: rewriting it would hide that from the validators."""
    content = dict(pairs)
    if len(content) != len(pairs):
        raise ValueError("duplicate key")
    return content


def takes_field(schema: dict[str, Any], field: str) -> bool:
    """Whether content in `schema` may hold `field`: a declared property, or extra ones allowed."""
    properties = schema.get("properties")
    if isinstance(properties, dict) and field in properties:
        return True
    return schema.get("additionalProperties", True) is not False


def with_native_reasoning(generation: Generation, field: str) -> Generation:
    """The generation with its native trace written into the content's `field`.

    Native reasoning wins over a trace the model also wrote in the field: it is what the model
    actually thought. A field the model filled with a list gets the trace's steps as a list. Text
    that is not a JSON object is left for the validators to report.
    """
    native = generation.reasoning
    if native is None or not native.strip():
        return generation
    try:
        content = json.loads(generation.text, object_pairs_hook=_unique_keys)
    except ValueError:
        return generation
    if not isinstance(content, dict):
        return generation
    content[field] = steps_of(native) if isinstance(content.get(field), list) else native.strip()
    return attrs.evolve(generation, text=json.dumps(content, ensure_ascii=False))


@attrs.frozen
class ReasoningMode:
    """The template's prompt, one answer with its reasoning, and the rules a trace must pass."""

    config: ReasoningConfig = ReasoningConfig()

    @property
    def name(self) -> str:
        return "reasoning"

    async def produce(self, context: ModeContext) -> Production:
        messages = context.template.render(context.task.seed, context.feedback)
        request = context.request(messages, reasoning=self.config.native)
        info, generation = await context.call(request, None)
        if takes_field(context.template.schema, self.config.field):
            generation = with_native_reasoning(generation, self.config.field)
        # else the trace stays native only: the rules read it there, the sample keeps it as its reasoning
        return Production(generation, messages, info)

    def validators(self) -> Sequence[Validator]:
        config = self.config
        return (
            NotTruncated(config.answer),
            AnswerPresent(config.answer),
            ReasoningSteps(config.field, config.min_steps, config.min_chars),
        )


def make_reasoning_mode(config: ReasoningConfig | None, context: PluginContext) -> ReasoningMode:
    """The registered factory: the job's ``[mode]`` options, or the defaults without one."""
    return ReasoningMode(config or ReasoningConfig())
