"""The mock provider: a pure function of (seed, request seed, prompt, attempt), with optional faults and latency.

A failure (`failure_rate`) is transient, as a real provider's 5xx is: the same request sent
again rolls again, so a call policy's transport retries can get it through.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

import anyio
import attrs

from destilation import (
    Generation,
    GenerationRequest,
    Message,
    PluginContext,
    Provider,
    ProviderError,
    ProviderInfo,
    ToolCall,
    Usage,
)
from destilation_mock.broken import broken_answer
from destilation_mock.config import MockConfig
from destilation_mock.content import SchemaError, near_copy, plan_for, words_of
from destilation_mock.faults import garbage, truncate
from destilation_mock.moe import spoil_moe
from destilation_mock.reasoning import trace, with_trace_field
from destilation_mock.tools import tool_turn

DEFAULT_CAPABILITIES = frozenset({"json_schema", "reasoning", "tools"})
DEFAULT_MODEL = "mock-1"
TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}
"""What the mock answers when a request carries no response schema."""


def prompt_text(messages: tuple[Message, ...]) -> str:
    """The whole conversation as one string; the answer is a function of it."""
    return "\n".join(f"{m.role}: {m.content}" for m in messages)


def last_user_message(messages: tuple[Message, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


def tokens(text: str) -> int:
    """A rough token count: four characters per token, rounded up."""
    return (len(text) + 3) // 4


class MockProvider(Provider):
    """Answers with schema-valid JSON built from the prompt's words, or with the faults it was told to make."""

    def __init__(self, config: MockConfig | None, context: PluginContext | None, info: ProviderInfo) -> None:
        self._config = config or MockConfig()
        self._info = info if info.capabilities else attrs.evolve(info, capabilities=DEFAULT_CAPABILITIES)
        self._model = info.model or DEFAULT_MODEL
        self._sleep_s = self._config.latency_ms / 1000
        self._failed: dict[tuple[int | None, int, int], int] = {}
        """Requests (request seed, attempt, prompt hash) that failed, with how often: only while they fail."""

    def info(self) -> ProviderInfo:
        return self._info

    async def models(self) -> list[str]:
        return [self._model]

    def _rng(self, prompt: str, attempt: int, task_seed: int | None) -> random.Random:
        # The request's own seed (one per task) keeps tasks with equal prompts apart.
        digest = hashlib.blake2b(f"{self._config.seed}\x00{task_seed}\x00{attempt}\x00".encode(), digest_size=16)
        digest.update(prompt.encode("utf-8", "surrogatepass"))
        return random.Random(int.from_bytes(digest.digest(), "big"))

    def _repeats(self, prompt: str, attempt: int, task_seed: int | None) -> bool:
        """Whether this answer is a near-copy; its own draw, so other outcomes stay as they were."""
        if not self._config.repeat:
            return False
        roll = self._rng("repeat\x00" + prompt, attempt, task_seed).random()
        return roll < self._config.repeat

    def _breaks(self, prompt: str, request: GenerationRequest) -> random.Random | None:
        """The draws of a deliberately broken answer, or None; its own roll, like `_repeats`."""
        config = self._config
        rate = config.reasoning_breakage if request.reasoning else config.schema_breakage
        if not rate:
            return None
        rng = self._rng("broken\x00" + prompt, request.attempt, request.seed)
        return rng if rng.random() < rate else None

    async def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        config = self._config
        prompt = prompt_text(request.messages)
        rng = self._rng(prompt, request.attempt, request.seed)
        if self._sleep_s:  # no await at all at 0 ms: a benchmark's mock costs microseconds
            await anyio.sleep(self._sleep_s)
        # Always three rolls, so one rate's outcome does not shift with another rate's setting.
        fail, spoil, cut = rng.random(), rng.random(), rng.random()
        if config.failure_rate:
            key = (request.seed, request.attempt, hash(prompt))
            failed = self._failed.pop(key, 0)
            if failed:  # sent again: a fresh roll, the same for the same history
                fail = random.Random(f"{config.seed}/{request.seed}/{request.attempt}/{failed}").random()
            if fail < config.failure_rate:
                self._failed[key] = failed + 1
                raise ProviderError(
                    f"mock provider failed on purpose (failure_rate={config.failure_rate})", retryable=True
                )
        words = words_of(last_user_message(request.messages))
        finish = "stop"
        value: Any = None
        calls: tuple[ToolCall, ...] = ()
        if request.tools:  # a turn of a tools conversation: a tool call, or the answer after the results
            turn_rng = self._rng("tools\x00" + prompt, request.attempt, request.seed)
            turn = tool_turn(request, words, config.tool_breakage, turn_rng)
            text, calls = turn.text, turn.calls
        elif spoil < config.garbage_rate:
            text = garbage(rng, words)
        else:
            schema = TEXT_SCHEMA if request.response_schema is None else request.response_schema
            try:
                if self._repeats(prompt, request.attempt, request.seed):
                    value = near_copy(plan_for(schema), f"repeat:{config.seed}", rng)
                else:
                    value = with_trace_field(plan_for(schema)(rng, words, 0), schema, rng, words)
            except SchemaError as exc:
                raise ProviderError(
                    f"mock provider cannot answer this response schema: {exc}", retryable=False
                ) from None
            text = json.dumps(value, ensure_ascii=False)
            if config.moe_breakage:  # its own draw, so the other outcomes stay as they were
                moe_rng = self._rng("moe\x00" + prompt, request.attempt, request.seed)
                text = spoil_moe(text, schema, config.moe_breakage, moe_rng, words)
            if cut < config.truncation_rate:
                text, finish = truncate(text, value), "length"
        reasoning = trace(rng, words) if request.reasoning else None
        breaker = self._breaks(prompt, request) if finish == "stop" else None
        if breaker is not None and value is not None:
            text, finish, reasoning = broken_answer(value, request, breaker, reasoning)
        usage = Usage(
            prompt_tokens=tokens(prompt),
            completion_tokens=tokens(text),
            reasoning_tokens=tokens(reasoning) if reasoning else 0,
        )
        return Generation(
            text=text,
            provider=self._info.name,
            model=self._model,
            finish_reason=finish,
            usage=usage,
            cost=config.cost_per_request,
            latency_s=time.perf_counter() - started,
            reasoning=reasoning,
            tool_calls=calls,
        )
