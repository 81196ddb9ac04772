"""Domain types shared by the engine, the plugins and the store.

They are frozen attrs classes so a value handed to a plugin cannot be changed behind the
engine's back; `attrs.evolve` makes the next version of a task or candidate.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

JSON = Any
"""A value decoded from JSON: dict, list, str, int, float, bool or None."""


class TaskState(enum.StrEnum):
    """Where a task is in its life: pending → running → accepted | rejected."""

    PENDING = "pending"
    RUNNING = "running"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class JobState(enum.StrEnum):
    """A job's state as the store records it; pause and cancel are written by any client."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"
    FAILED = "failed"


@attrs.frozen
class Usage:
    """Token counts of one generation, as the provider reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@attrs.frozen
class ToolCall:
    """A function call a model asked for; `arguments` stays the raw JSON text it sent."""

    id: str
    name: str
    arguments: str


@attrs.frozen
class ToolSpec:
    """A tool offered to the model: a name, a description and a JSON schema of parameters."""

    name: str
    description: str = ""
    parameters: dict[str, JSON] = attrs.field(factory=dict)


@attrs.frozen
class Message:
    """One chat message; reasoning and tool calls ride along for traces."""

    role: str
    content: str
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@attrs.frozen
class GenerationRequest:
    """What the engine asks a provider for. `response_schema` is the template's JSON schema."""

    messages: tuple[Message, ...]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    response_schema: dict[str, JSON] | None = None
    tools: tuple[ToolSpec, ...] = ()
    reasoning: bool = False
    seed: int | None = None
    attempt: int = 1
    """1-based attempt number of the task this request serves."""


@attrs.frozen
class Generation:
    """A provider's answer. `text` is untrusted model output, never parsed by the provider."""

    text: str
    provider: str
    model: str
    finish_reason: str | None = "stop"
    usage: Usage = Usage()
    cost: float | None = None
    latency_s: float = 0.0
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@attrs.frozen
class Issue:
    """One structured validation failure; it becomes feedback in the next attempt's prompt."""

    code: str
    message: str
    path: str = "$"
    hint: str | None = None
    severity: Severity = Severity.ERROR

    def as_feedback(self) -> str:
        text = f"[{self.code}] at {self.path}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


_UNSET: Any = object()


@attrs.frozen
class Verdict:
    """A validator's finding. A validator that parses output hands the parsed `content` on."""

    issues: tuple[Issue, ...] = ()
    content: JSON = _UNSET
    scores: dict[str, float] = attrs.field(factory=dict)
    calls: tuple[Generation, ...] = ()
    """Answers of providers the validator asked (a judge's): their usage and cost count in the attempt's."""

    @property
    def ok(self) -> bool:
        return not any(i.severity is Severity.ERROR for i in self.issues)

    @property
    def has_content(self) -> bool:
        return self.content is not _UNSET


@attrs.frozen
class TaskSeed:
    """The deterministic recipe of one sample: its index plus axis values or an input row."""

    index: int
    axes: dict[str, str] = attrs.field(factory=dict)
    row: dict[str, JSON] | None = None

    def variables(self) -> dict[str, JSON]:
        """Values a prompt pattern may use: `{index}`, every axis, every input column."""
        out: dict[str, JSON] = {"index": self.index}
        out.update(self.axes)
        if self.row:
            out.update(self.row)
        return out


@attrs.frozen
class Task:
    """One sample to produce. `key` (job name / index) is what users type to inspect it."""

    job: str
    seed: TaskSeed
    state: TaskState = TaskState.PENDING
    attempts: int = 0
    lease_owner: str | None = None
    reasons: tuple[Issue, ...] = ()

    @property
    def index(self) -> int:
        return self.seed.index

    @property
    def key(self) -> str:
        return f"{self.job}/{self.seed.index}"


@attrs.frozen
class AttemptPayload:
    """What one attempt said and heard, for `destiler inspect` and the dpo export.

    Kept only as the job's `keep_attempts` asks; every text is redacted and bounded
    (`destilation.payloads`) before it gets here, so a store keeps it as it is.
    """

    prompt: tuple[Message, ...] = ()
    """The rendered messages the answer was asked with (the previous attempt's feedback included)."""
    response: str = ""
    """The raw answer text, as the provider sent it."""
    reasoning: str | None = None
    feedback: tuple[Issue, ...] = ()
    """The issues of the previous attempt that went into this attempt's prompt."""


@attrs.frozen
class Attempt:
    """One provider call and its verdict, kept for inspection and statistics."""

    number: int
    provider: str
    model: str
    ok: bool
    latency_s: float = 0.0
    usage: Usage = Usage()
    cost: float | None = None
    finish_reason: str | None = None
    issues: tuple[Issue, ...] = ()
    error: str | None = None
    payload: AttemptPayload | None = None
    """Prompt, raw response and feedback; None when the job's `keep_attempts` drops them."""


@attrs.frozen
class Sample:
    """Accepted content plus lineage. `seq` is the store's commit order, set on commit."""

    job: str
    task_index: int
    content: JSON
    content_hash: str
    template_id: str
    template_version: str
    provider: str
    model: str
    attempts: int
    usage: Usage = Usage()
    cost: float | None = None
    scores: dict[str, float] = attrs.field(factory=dict)
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    seq: int | None = None
    mode: str | None = None
    latency_s: float = 0.0
    seed: TaskSeed | None = None
    """What the task asked for (axis values or input row): the sample line's `meta.input`."""
    messages: tuple[Message, ...] = ()
    """The accepted attempt's prompt, after the template's preamble when `preamble` names it."""
    preamble: str | None = None
    """Digest of the template's system prompt and few-shot turns left out of `messages`, if any."""

    def record(self) -> dict[str, JSON]:
        """The dataset line: content first, then lineage under `meta`.

        Every key is on every line, so a reader that infers column types from the first lines
        (`datasets` reads 10 MB blocks and casts later ones to the first one's types) never meets
        a new column late in a big file. `reasoning` is "" when there is none, not null: a block of
        nulls types the column as null, and a string after it no longer fits. `tool_calls` is []
        and `meta.scores` null when empty; `meta.input` holds `axes` and `row` (each null when
        the task has none) and `meta.messages` the prompt as role/content objects, with
        `reasoning` and `tool_calls` only on messages that carry them. The template's preamble
        (system prompt, few-shot turns) is left out of `messages` and named by `meta.preamble`.
        """
        meta: dict[str, JSON] = {
            "job": self.job,
            "task": self.task_index,
            "template": self.template_id,
            "template_version": self.template_version,
            "provider": self.provider,
            "model": self.model,
            "attempts": self.attempts,
            "content_hash": self.content_hash,
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "reasoning_tokens": self.usage.reasoning_tokens,
            },
            "cost": self.cost,
            "scores": self.scores or None,
            "mode": self.mode,
            "latency_s": self.latency_s,
            "input": seed_record(self.seed),
            "messages": [message_record(m) for m in self.messages],
            "preamble": self.preamble,
        }
        out: dict[str, JSON] = dict(self.content) if isinstance(self.content, dict) else {"content": self.content}
        out.setdefault("reasoning", self.reasoning or "")
        calls = (
            [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls] if self.tool_calls else []
        )
        out.setdefault("tool_calls", calls)
        out["meta"] = meta
        return out


def seed_record(seed: TaskSeed | None) -> dict[str, JSON]:
    """A task's input as a dataset line keeps it: both keys always there, null when empty."""
    if seed is None:
        return {"axes": None, "row": None}
    return {"axes": dict(seed.axes) or None, "row": seed.row}


def message_record(message: Message) -> dict[str, JSON]:
    """A chat message as JSON: role and content, plus reasoning, tool calls and call id where present."""
    out: dict[str, JSON] = {"role": message.role, "content": message.content}
    if message.reasoning is not None:
        out["reasoning"] = message.reasoning
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def message_from_record(data: dict[str, JSON]) -> Message:
    """The inverse of `message_record`."""
    calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in data.get("tool_calls") or ())
    return Message(data["role"], data["content"], data.get("reasoning"), calls, data.get("tool_call_id"))


@attrs.frozen
class Candidate:
    """A generation on its way through the validator pipeline."""

    task: Task
    generation: Generation
    content: JSON = _UNSET

    @property
    def parsed(self) -> bool:
        return self.content is not _UNSET


@attrs.frozen
class JobRecord:
    """A job as the store knows it."""

    name: str
    state: JobState
    target: int
    spec: dict[str, JSON]
    created_at: float
    updated_at: float
    planned: int = 0
    finished_at: float | None = None
    message: str | None = None


@attrs.frozen
class SinkCursor:
    """How far a sink's file is known to be durable: last sample seq and file byte offset.

    `digest` proves the content up to `offset` (the sink's own format, such as ``sha256:<hex>``),
    so `Sink.open` can tell a file that kept its size but not its bytes; "" when none is known.
    """

    seq: int = 0
    offset: int = 0
    digest: str = ""


@attrs.frozen
class RoleLease:
    """Who holds a role of a job (planner, exporter, …) and until when, as the store sees it.

    `fence` grows each time the role changes hands: writes fenced by it are refused once another
    process took the role over, even if the old holder does not know yet.
    """

    job: str
    role: str
    owner: str | None
    """None when the role is free (released, or never taken)."""
    fence: int
    expires: float
    """Epoch seconds; past it another owner may take the role."""

    def held_by(self, owner: str) -> bool:
        return self.owner == owner


@attrs.frozen
class Member:
    """A process working a job, as it registered itself in the store (`destiler workers` lists them).

    `owner` is the lease owner its tasks and roles are held under. A member whose `heartbeat_at`
    is older than the job's `member_timeout_s` is taken for dead: any other member reaps it,
    freeing its task leases and roles at once instead of waiting for the leases to expire.
    """

    job: str
    owner: str
    host: str
    pid: int
    kind: str
    """`runner` (`destiler run`/`resume`: plans, exports, decides the job's state) or `worker` (only works)."""
    started_at: float
    heartbeat_at: float = 0.0
    """Epoch seconds of the last heartbeat; the store sets it when the member beats."""
    in_flight: int = 0
    """Tasks the member works on right now."""
    rate: float = 0.0
    """Samples per second the member accepted since it started."""


@attrs.frozen
class Event:
    """Something worth telling subscribers and the dashboard about."""

    kind: str
    job: str
    message: str = ""
    severity: str = "info"
    provider: str | None = None
    task_index: int | None = None
    data: dict[str, JSON] = attrs.field(factory=dict)
    at: float = 0.0


EVENT_SEVERITIES = ("debug", "info", "warning", "error")
"""Event severities from least to most severe; `destiler logs --level` shows one and those after it."""


@attrs.frozen
class LoggedEvent:
    """An event as a store numbered it: ids grow in the order events were stored, per store."""

    id: int
    event: Event


class Circuit(enum.StrEnum):
    """A provider's circuit breaker: closed (calls go out), open (none do), half-open (probes only)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@attrs.frozen
class ProviderHealth:
    """One provider's health in one job, as one process's call policy measured it.

    Each process working a job writes its own row (`owner`) at least once a second; `show` and
    the dashboard add the rows of a provider up (`merge_health`). Error counts are keyed by
    class: ``rate_limited``, ``server``, ``timeout``, ``transport``, ``auth``, ``refused``,
    ``other``.
    """

    job: str
    provider: str
    owner: str
    model: str = ""
    requests: int = 0
    """Requests sent, transport retries included."""
    successes: int = 0
    retries: int = 0
    """Requests sent again after a provider failure (never task attempts)."""
    failovers: int = 0
    """Requests given up here and handed to another provider of the route."""
    errors: dict[str, int] = attrs.field(factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    concurrency_limit: int = 0
    """What adaptive concurrency allows right now (at most the configured `concurrency`)."""
    in_flight: int = 0
    circuit: Circuit = Circuit.CLOSED
    held_until: float | None = None
    """Epoch seconds until which `Retry-After` (or backoff) holds the whole provider back."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    last_error: str | None = None
    """The latest failure, one redacted line."""
    details: dict[str, JSON] = attrs.field(factory=dict)
    """What the provider itself reports (`Provider.health_details`), e.g. its structured-output mode."""
    updated_at: float = 0.0
