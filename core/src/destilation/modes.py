"""Modes (DESIGN §9): how a task's requests are made and how the answers become a sample's content.

A mode is a registered object like a provider or a validator; the built-in ones (simple,
reasoning, moe, tools, custom) are registered by a plugin exactly as a third party's would be.
The attempt loop asks the task's mode to `produce` one attempt; the mode calls models through
`ModeContext.call` (routing, failover and each provider's call policy stay the engine's), and
returns the candidate the validators check. A mode may also contribute validators of its own
(`Mode.validators`), built from its options, which run after the template's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from destilation.domain import Generation, GenerationRequest, Issue, Message, Task

if TYPE_CHECKING:
    from destilation.config import JobSpec
    from destilation.interfaces import PluginContext, ProviderInfo, Validator
    from destilation.templates import Template


Caller = Callable[[GenerationRequest, "str | None"], Awaitable[tuple["ProviderInfo", Generation]]]
"""``await call(request, provider)``: one answer through the engine.

With ``provider=None`` the task's route picks the provider (and moves the request on when that
one gives it up, if the job fails over); with a name, that provider's call policy answers (an
expert's own provider). Returns the provider that answered and its generation. The engine's own
exceptions pass through untouched (a job-wide hold or abort, a request every provider refused):
a mode never catches them.
"""


@attrs.frozen
class ModeContext:
    """What a mode may use for one attempt of one task."""

    spec: JobSpec
    template: Template
    task: Task
    number: int
    """1-based number of this attempt."""
    feedback: tuple[Issue, ...]
    """The issues of the task's previous attempt (empty on the first): they go into the prompt."""
    call: Caller
    seed: int | None = None
    """The per-task request seed, for providers that honour one."""

    def request(self, messages: Sequence[Message], **changes: Any) -> GenerationRequest:
        """A request with the job's defaults (temperature, max tokens, schema, reasoning, seed, attempt).

        ``changes`` override any of them (``response_schema=None`` for a free-text turn, ``tools=…``).
        """
        values: dict[str, Any] = {
            "messages": tuple(messages),
            "temperature": self.spec.temperature,
            "max_tokens": self.spec.max_tokens,
            "response_schema": self.template.schema,
            "reasoning": "reasoning" in self.template.capabilities,
            "seed": self.seed,
            "attempt": self.number,
        }
        values.update(changes)
        return GenerationRequest(**values)


@attrs.frozen
class Production:
    """What a mode made of one attempt.

    `generation` is what the validators check: its `text` is the candidate content as JSON text
    (a multi-turn mode writes the whole conversation there), its usage, cost and latency are the
    sums over every call the attempt made, and `model` the one that gave the final answer.
    `prompt` is what the final answer was asked with (lineage and `destiler inspect`);
    `provider` is the provider that gave it.
    """

    generation: Generation
    prompt: tuple[Message, ...]
    provider: ProviderInfo
    calls: int = 1
    """Model calls the attempt made (a moe attempt makes one per expert and one to aggregate)."""


@runtime_checkable
class Mode(Protocol):
    """Renders a task's requests and turns the answers into a candidate.

    A mode may also define ``check_job(spec: JobSpec, source: str) -> None``: wiring calls it once
    the mode is built, so options that refer to the rest of the job (an expert's provider must be
    one of the job's) fail `check` and `run` with a ConfigError naming the file, before any request.
    """

    @property
    def name(self) -> str: ...

    async def produce(self, context: ModeContext) -> Production: ...

    def validators(self) -> Sequence[Validator]:
        """Validators this mode adds after the template's (labels, tool calls, final answer present)."""
        ...


ModeFactory = Callable[[Any, "PluginContext"], Mode]
"""``factory(config, context)``: `config` is the job's ``[mode]`` table structured into the class
registered with the mode (None when it registered none, or the job has no such table)."""


def combine(generations: Sequence[Generation], text: str) -> Generation:
    """One generation standing for several calls: `text`, the last call's model and finish, summed usage, cost and time.

    A multi-turn mode's validators then see the whole attempt's tokens and cost, and its content.
    """
    usage = generations[0].usage
    for generation in generations[1:]:
        usage = usage + generation.usage
    known = [g.cost for g in generations if g.cost is not None]
    return attrs.evolve(
        generations[-1],
        text=text,
        usage=usage,
        cost=sum(known) if known else None,
        latency_s=sum(g.latency_s for g in generations),
    )


@attrs.frozen
class SingleCall:
    """The one-request mode: the template's prompt (with the last attempt's feedback), one answer.

    Not registered by core: the templates plugin registers it as ``simple`` and ``custom``, the
    testing kit as ``testing.single``; a third party's mode may wrap or extend it.
    """

    name: str = "simple"

    async def produce(self, context: ModeContext) -> Production:
        messages = context.template.render(context.task.seed, context.feedback)
        info, generation = await context.call(context.request(messages), None)
        return Production(generation, messages, info)

    def validators(self) -> Sequence[Validator]:
        return ()
