"""The `dpo` format: preference pairs from a task's accepted answer and one of its failed attempts.

Both answers of a pair must answer the same prompt, so the pair is built around the failed
attempt: its prompt (up to the last user turn), its raw answer as `rejected`, and the accepted
sample's content as `chosen`. The earliest kept failure is taken, whose prompt carries no
feedback of an earlier attempt. Only jobs that keep attempt payloads (`keep_attempts` "failed"
or "all") have anything to pair; tasks accepted at their first attempt have no pair.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from destilation import Attempt, Sample
from destilation.domain import JSON, Message

Row = dict[str, JSON]


def keeps_payloads(spec: Mapping[str, JSON]) -> bool:
    """Whether the job's stored spec keeps any attempt payload (the default keeps failed ones)."""
    return spec.get("keep_attempts", "failed") != "none"


def _turns(messages: Sequence[Message]) -> list[JSON]:
    """Chat messages as role/content objects: the same two keys on every message of every row."""
    return [{"role": m.role, "content": m.content} for m in messages]


def prompt_of(messages: Sequence[Message]) -> tuple[Message, ...]:
    """Every message up to and with the last user turn."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    return tuple(messages[: users[-1] + 1]) if users else tuple(messages)


def dpo_row(sample: Sample, attempts: Sequence[Attempt]) -> Row | None:
    """The pair of one accepted task, or None when it kept no failed attempt to pair with."""
    failed = [(a.number, p) for a in attempts if not a.ok and (p := a.payload) is not None and p.response]
    if not failed:
        return None
    _, rejected = min(failed, key=lambda pair: pair[0])
    chosen = json.dumps(sample.content, ensure_ascii=False)
    return {
        "prompt": _turns(prompt_of(rejected.prompt)),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected.response}],
    }
