"""Row ↔ domain codec: the one place that knows how domain values look in table columns.

JSON goes in as text (``ensure_ascii=False``, ``allow_nan=False``) so SQLite and PostgreSQL
store the same bytes and a NaN never becomes a file no JSON reader can load. Free text that may
quote a server (attempt errors, job messages) is redacted on its way in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from destilation import (
    Attempt,
    AttemptPayload,
    Circuit,
    Event,
    Issue,
    JobRecord,
    JobState,
    LoggedEvent,
    ProviderHealth,
    Sample,
    Severity,
    StoreError,
    Task,
    TaskSeed,
    TaskState,
    ToolCall,
    Usage,
    redact_text,
    redact_value,
)
from destilation.domain import JSON, message_from_record, message_record

Row = Mapping[Any, Any]

# One encoder for every value: json.dumps would build a new one per call with these options.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dumps(value: JSON, what: str) -> str:
    """JSON text of `value`; StoreError names `what` when it is not plain JSON (NaN, sets, …)."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: cannot be stored as JSON: {exc}") from None


def loads(text: str | None) -> JSON:
    return None if text is None else json.loads(text)


# --- small values ----------------------------------------------------------------------------


def issue_to_json(issue: Issue) -> dict[str, JSON]:
    return {
        "code": issue.code,
        "message": issue.message,
        "path": issue.path,
        "hint": issue.hint,
        "severity": issue.severity.value,
    }


def issue_from_json(data: Mapping[str, JSON]) -> Issue:
    return Issue(data["code"], data["message"], data["path"], data["hint"], Severity(data["severity"]))


def issues_dumps(issues: Sequence[Issue], what: str) -> str | None:
    return dumps([issue_to_json(i) for i in issues], what) if issues else None


def issues_loads(text: str | None) -> tuple[Issue, ...]:
    return tuple(issue_from_json(d) for d in loads(text) or ())


def usage_to_json(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def usage_from_json(data: Mapping[str, int]) -> Usage:
    return Usage(data["prompt_tokens"], data["completion_tokens"], data["reasoning_tokens"])


def tool_calls_dumps(calls: Sequence[ToolCall], what: str) -> str | None:
    return dumps([{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls], what) if calls else None


def tool_calls_loads(text: str | None) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(d["id"], d["name"], d["arguments"]) for d in loads(text) or ())


def payload_dumps(payload: AttemptPayload | None, what: str) -> str | None:
    if payload is None:
        return None
    value = {
        "prompt": [message_record(m) for m in payload.prompt],
        "response": payload.response,
        "reasoning": payload.reasoning,
        "feedback": [issue_to_json(i) for i in payload.feedback],
    }
    return dumps(value, what)


def payload_loads(text: str | None) -> AttemptPayload | None:
    data = loads(text)
    if data is None:
        return None
    return AttemptPayload(
        prompt=tuple(message_from_record(m) for m in data["prompt"]),
        response=data["response"],
        reasoning=data["reasoning"],
        feedback=tuple(issue_from_json(i) for i in data["feedback"]),
    )


def lineage_dumps(sample: Sample, what: str) -> str:
    """The sample's mode, latency, input, prompt and preamble digest in one JSON column."""
    seed = sample.seed
    value = {
        "mode": sample.mode,
        "latency_s": sample.latency_s,
        "seed": None if seed is None else {"index": seed.index, "axes": seed.axes, "row": seed.row},
        "messages": [message_record(m) for m in sample.messages],
        "preamble": sample.preamble,
    }
    return dumps(value, what)


def lineage_loads(text: str | None) -> dict[str, Any]:
    """Sample fields from a lineage column; none from a row an older release wrote."""
    data = loads(text)
    if data is None:
        return {}
    seed = data["seed"]
    return {
        "mode": data["mode"],
        "latency_s": data["latency_s"],
        "seed": None if seed is None else TaskSeed(seed["index"], seed["axes"], seed["row"]),
        "messages": tuple(message_from_record(m) for m in data["messages"]),
        "preamble": data["preamble"],
    }


# --- rows ------------------------------------------------------------------------------------


def seed_to_row(job: str, seed: TaskSeed) -> dict[str, Any]:
    """The insert parameters of a new pending task."""
    what = f"task {job}/{seed.index}"
    return {
        "job": job,
        "idx": seed.index,
        "axes": dumps(seed.axes, what),
        "row": None if seed.row is None else dumps(seed.row, what),
        "state": TaskState.PENDING.value,
        "attempts": 0,
        "lease_owner": None,
        "lease_expires": None,
        "reasons": None,
    }


def task_from_row(row: Row) -> Task:
    seed = TaskSeed(row["idx"], loads(row["axes"]), loads(row["row"]))
    return Task(
        row["job"],
        seed,
        TaskState(row["state"]),
        row["attempts"],
        row["lease_owner"],
        issues_loads(row["reasons"]),
    )


def attempt_to_row(job: str, index: int, attempt: Attempt, now: float) -> dict[str, Any]:
    return {
        "job": job,
        "idx": index,
        "number": attempt.number,
        "provider": attempt.provider,
        "model": attempt.model,
        "ok": attempt.ok,
        "latency_s": attempt.latency_s,
        "prompt_tokens": attempt.usage.prompt_tokens,
        "completion_tokens": attempt.usage.completion_tokens,
        "reasoning_tokens": attempt.usage.reasoning_tokens,
        "cost": attempt.cost,
        "finish_reason": attempt.finish_reason,
        "issues": issues_dumps(attempt.issues, f"attempt {attempt.number} of task {job}/{index}"),
        "error": None if attempt.error is None else redact_text(attempt.error),
        "created_at": now,
        "payload": payload_dumps(attempt.payload, f"payload of attempt {attempt.number} of task {job}/{index}"),
    }


def attempt_from_row(row: Row) -> Attempt:
    return Attempt(
        number=row["number"],
        provider=row["provider"],
        model=row["model"],
        ok=bool(row["ok"]),
        latency_s=row["latency_s"],
        usage=Usage(row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"]),
        cost=row["cost"],
        finish_reason=row["finish_reason"],
        issues=issues_loads(row["issues"]),
        error=row["error"],
        payload=payload_loads(row["payload"]),
    )


def sample_to_row(sample: Sample, now: float) -> dict[str, Any]:
    what = f"sample of task {sample.job}/{sample.task_index}"
    return {
        "job": sample.job,
        "idx": sample.task_index,
        "content": dumps(sample.content, what),
        "content_hash": sample.content_hash,
        "template_id": sample.template_id,
        "template_version": sample.template_version,
        "provider": sample.provider,
        "model": sample.model,
        "attempts": sample.attempts,
        "usage": dumps(usage_to_json(sample.usage), what),
        "cost": sample.cost,
        "scores": dumps(sample.scores, what) if sample.scores else None,
        "reasoning": sample.reasoning,
        "tool_calls": tool_calls_dumps(sample.tool_calls, what),
        "created_at": now,
        "lineage": lineage_dumps(sample, what),
    }


def sample_from_row(row: Row) -> Sample:
    return Sample(
        job=row["job"],
        task_index=row["idx"],
        content=loads(row["content"]),
        content_hash=row["content_hash"],
        template_id=row["template_id"],
        template_version=row["template_version"],
        provider=row["provider"],
        model=row["model"],
        attempts=row["attempts"],
        usage=usage_from_json(loads(row["usage"])),
        cost=row["cost"],
        scores=loads(row["scores"]) or {},
        reasoning=row["reasoning"],
        tool_calls=tool_calls_loads(row["tool_calls"]),
        seq=row["seq"],
        **lineage_loads(row["lineage"]),
    )


def job_from_row(row: Row) -> JobRecord:
    return JobRecord(
        name=row["name"],
        state=JobState(row["state"]),
        target=row["target"],
        spec=loads(row["spec"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        planned=row["planned"],
        finished_at=row["finished_at"],
        message=row["message"],
    )


def event_to_row(event: Event, now: float) -> dict[str, Any]:
    return {
        "job": event.job,
        "kind": event.kind,
        "severity": event.severity,
        "provider": event.provider,
        "task_index": event.task_index,
        "message": event.message,
        "data": dumps(event.data, f"event {event.kind} of job {event.job}") if event.data else None,
        # An event built without a time gets the time it was stored.
        "at": event.at or now,
    }


def event_from_row(row: Row) -> Event:
    return Event(
        kind=row["kind"],
        job=row["job"],
        message=row["message"],
        severity=row["severity"],
        provider=row["provider"],
        task_index=row["task_index"],
        data=loads(row["data"]) or {},
        at=row["at"],
    )


def logged_event_from_row(row: Row) -> LoggedEvent:
    return LoggedEvent(row["id"], event_from_row(row))


def health_to_row(health: ProviderHealth, now: float, secrets: Sequence[str] = ()) -> dict[str, Any]:
    """The upsert parameters of one health row; its last error and details lose any credential."""
    what = f"health of provider {health.provider} in job {health.job}"
    return {
        "job": health.job,
        "provider": health.provider,
        "owner": health.owner,
        "model": health.model,
        "requests": health.requests,
        "successes": health.successes,
        "retries": health.retries,
        "failovers": health.failovers,
        "errors": dumps(health.errors, what),
        "latency_p50_s": health.latency_p50_s,
        "latency_p95_s": health.latency_p95_s,
        "concurrency_limit": health.concurrency_limit,
        "in_flight": health.in_flight,
        "circuit": health.circuit.value,
        "held_until": health.held_until,
        "prompt_tokens": health.prompt_tokens,
        "completion_tokens": health.completion_tokens,
        "cost": health.cost,
        "last_error": None if health.last_error is None else redact_text(health.last_error, secrets),
        "details": dumps(redact_value(health.details), what),
        "updated_at": health.updated_at or now,
    }


def health_from_row(row: Row) -> ProviderHealth:
    return ProviderHealth(
        job=row["job"],
        provider=row["provider"],
        owner=row["owner"],
        model=row["model"],
        requests=row["requests"],
        successes=row["successes"],
        retries=row["retries"],
        failovers=row["failovers"],
        errors=loads(row["errors"]),
        latency_p50_s=row["latency_p50_s"],
        latency_p95_s=row["latency_p95_s"],
        concurrency_limit=row["concurrency_limit"],
        in_flight=row["in_flight"],
        circuit=Circuit(row["circuit"]),
        held_until=row["held_until"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        cost=row["cost"],
        last_error=row["last_error"],
        details=loads(row["details"]),
        updated_at=row["updated_at"],
    )
