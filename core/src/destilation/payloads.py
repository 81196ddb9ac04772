"""Attempt payloads: what each attempt was asked and answered, redacted and bounded before it is kept.

A store keeps a payload per attempt for `destiler inspect` and the dpo export. A runaway answer
(a model that never stops) must not grow the store without bound, so every text field is cut at
`FIELD_LIMIT` bytes of UTF-8 with a marker saying how much was cut; credentials are masked first.
Which attempts keep one is the job's `keep_attempts`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Literal

import attrs

from destilation.domain import AttemptPayload, Generation, Issue, Message, ToolCall, message_record
from destilation.redaction import redact_text
from destilation.secrets import known_secrets

KeepAttempts = Literal["all", "failed", "none"]
"""`all`: every attempt; `failed` (the default): attempts whose answer failed validation; `none`."""

FIELD_LIMIT = 64 * 1024
"""Bytes of UTF-8 one payload text (a message, the response, the reasoning) may take, marker included."""

_MARKER_ROOM = 48


def bound(text: str, limit: int = FIELD_LIMIT) -> str:
    """`text` if it fits in `limit` bytes; else its start and ``…[N bytes cut]``, within `limit`."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    head = data[: max(limit - _MARKER_ROOM, 0)].decode("utf-8", "ignore")
    cut = len(data) - len(head.encode("utf-8", "surrogatepass"))
    return f"{head}…[{cut} bytes cut]"


def safe_text(text: str, limit: int = FIELD_LIMIT) -> str:
    """Redacted, then bounded: what a stored payload or lineage text holds."""
    return bound(redact_text(text), limit)


@functools.lru_cache(maxsize=256)
def _safe_prompt_text(text: str, limit: int, secrets: frozenset[str]) -> str:
    """`safe_text`, remembered: a template's system prompt recurs in every prompt, and redacting
    a few KB of text takes milliseconds. `secrets` is part of the key, so a newly known secret
    is never missed by an answer remembered before it."""
    return safe_text(text, limit)


def safe_messages(messages: Sequence[Message], limit: int = FIELD_LIMIT) -> tuple[Message, ...]:
    """Messages with their content, reasoning and tool call arguments redacted and bounded."""
    secrets = known_secrets()
    return tuple(
        attrs.evolve(
            m,
            content=_safe_prompt_text(m.content, limit, secrets),
            reasoning=None if m.reasoning is None else safe_text(m.reasoning, limit),
            tool_calls=tuple(ToolCall(c.id, c.name, safe_text(c.arguments, limit)) for c in m.tool_calls),
        )
        for m in messages
    )


def keeps(policy: KeepAttempts, ok: bool) -> bool:
    """Whether an attempt whose verdict was `ok` keeps its payload under `policy`."""
    return policy == "all" or (policy == "failed" and not ok)


def make_payload(
    prompt: Sequence[Message],
    generation: Generation,
    feedback: Sequence[Issue] = (),
    limit: int = FIELD_LIMIT,
) -> AttemptPayload:
    """The payload of one attempt: its prompt, raw answer, reasoning and the feedback it was given."""
    return AttemptPayload(
        prompt=safe_messages(prompt, limit),
        response=safe_text(generation.text, limit),
        reasoning=None if generation.reasoning is None else safe_text(generation.reasoning, limit),
        feedback=tuple(feedback),
    )


def digest_messages(messages: Sequence[Message]) -> str:
    """A short, stable name of some messages: ``sha256:`` and 16 hex digits of their JSON."""
    text = json.dumps([message_record(m) for m in messages], ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def split_preamble(prompt: Sequence[Message], preamble: Sequence[Message]) -> tuple[tuple[Message, ...], str | None]:
    """The prompt without the template's preamble it starts with, and the preamble's digest.

    The system prompt (with the JSON schema) and few-shot turns are the same on every line of a
    template version and were most of a line's bytes; a line keeps only the task's own turns and
    names the preamble by digest. A prompt that does not start with it is kept whole (digest None).
    """
    count = len(preamble)
    if count and tuple(prompt[:count]) == tuple(preamble):
        return tuple(prompt[count:]), digest_messages(preamble)
    return tuple(prompt), None
