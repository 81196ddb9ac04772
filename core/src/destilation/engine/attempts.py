"""The attempt loop of one task: route, generate, validate, then accept, retry with feedback or reject.

Only an answer that fails validation uses one of the task's attempts (DESIGN §8). A provider
failure is its call policy's business: what reaches this loop is `ProviderUnavailable` (the
task moves to the next eligible provider of its route) or `ProviderAborted` (the job stops).
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import attrs

from destilation.config import JobSpec
from destilation.domain import (
    Attempt,
    Candidate,
    Event,
    Generation,
    GenerationRequest,
    Issue,
    Sample,
    Task,
    Usage,
)
from destilation.engine.wiring import ValidatorSlot
from destilation.engine.writer import BatchWriter
from destilation.errors import DestilationError, JobError, RequestRefused
from destilation.interfaces import Accept, ProviderInfo, Reject, Retry, Router, ValidationContext
from destilation.modes import Mode, ModeContext, Production
from destilation.payloads import keeps, make_payload, safe_messages, split_preamble
from destilation.policy import CallPolicy, ProviderAborted, ProviderUnavailable
from destilation.redaction import redact_text
from destilation.templates import Template

UNAVAILABLE = "every provider is unavailable"
"""How the reason of a pause for want of providers begins: a runner resumes such a pause by itself."""
PINNED_WAIT_S = 1.0
"""Without failover, how long a task waits before it asks its provider again."""


class JobAborted(JobError):
    """A provider failure that retrying cannot mend (a bad key, no credits): the job stops."""


class NoProviderLeft(JobError):
    """No provider of a task's route can take it now: the job pauses until one answers a probe."""


def cause_of(name: str, message: str) -> str:
    """A policy's message without the provider name it starts with, which the caller puts first itself."""
    return message.removeprefix(f"provider {name}: ").removeprefix(f"{name}: ")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate keys in an object")
    return out


def strict_json(text: str) -> Any:
    """Parse model output when no validator did: no NaN/Infinity, no duplicate keys, no lone surrogates."""
    value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    # A lone surrogate, raw or escaped, cannot be written as UTF-8: UnicodeEncodeError is a ValueError.
    json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def request_seed(job_seed: int, index: int) -> int:
    """A per-task seed for providers that honour one, so reruns ask for the same sample."""
    digest = hashlib.blake2b(f"{job_seed}/{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def remember_fingerprints(fingerprint: Callable[[Any], str], size: int = 1024) -> Callable[[Any], str]:
    """`fingerprint`, answered from memory when the same content object is asked about again.

    The exact-dedup validator and the engine both need an accepted answer's fingerprint; this
    computes it once. Entries keep their content alive, so an id is never reused while cached.
    """
    seen: dict[int, tuple[Any, str]] = {}

    def remembered(content: Any) -> str:
        hit = seen.get(id(content))
        if hit is not None and hit[0] is content:
            return hit[1]
        if len(seen) >= size:  # forget the older half: the answers still being worked on are recent
            for key in list(itertools.islice(seen, size // 2)):
                del seen[key]
        value = fingerprint(content)
        seen[id(content)] = (content, value)
        return value

    return remembered


@attrs.define
class Hooks:
    """The decision hooks, bound once so the hot path calls plain functions."""

    fingerprint: Callable[[Any], str]
    classify_error: Callable[[BaseException, str], str]
    estimate_cost: Callable[[str, str, Usage], float]


async def pinned_generate(policy: CallPolicy, request: GenerationRequest) -> Generation:
    """An answer from one named provider (a judge, an expert): it waits while that provider is held.

    It refuses the request: `RequestRefused`. Its circuit is open: `NoProviderLeft`, so the job
    holds until a probe answers, as when no provider of a route is left. Aborts stop the job.
    """
    while True:
        try:
            return await policy.generate(request)
        except ProviderUnavailable as exc:
            cause = cause_of(policy.name, str(exc))
            if exc.refused:
                raise RequestRefused(redact_text(f"provider {policy.name} refused the request: {cause}")) from None
            if not policy.available():
                raise NoProviderLeft(redact_text(f"{UNAVAILABLE}: {policy.name}: {cause}")) from None
            await anyio.sleep(PINNED_WAIT_S)
        except ProviderAborted as exc:
            cause = redact_text(cause_of(policy.name, str(exc)))
            raise JobAborted(f"provider {policy.name!r} stopped the job: {cause}") from None


def named_policy(policies: dict[str, CallPolicy], provider: str) -> CallPolicy:
    """The call policy of the provider a mode or validator names; a name the job lacks stops the job."""
    policy = policies.get(provider)
    if policy is None:
        raise JobError(f"no provider named {provider!r} in this job (it has {', '.join(policies)})")
    return policy


@attrs.frozen
class NamedProviders:
    """The job's providers by name, for validators (`ProviderPort`): each call goes through its policy."""

    policies: dict[str, CallPolicy]

    def names(self) -> Sequence[str]:
        return list(self.policies)

    async def generate(self, provider: str, request: GenerationRequest) -> Generation:
        return await pinned_generate(named_policy(self.policies, provider), request)


@attrs.define
class AttemptLoop:
    spec: JobSpec
    template: Template
    mode: Mode
    """Makes each attempt's requests and turns the answers into the candidate (`destilation.modes`)."""
    policies: dict[str, CallPolicy]
    """The only way to call a provider: each holds its provider's pacing, retries and health."""
    infos: Sequence[ProviderInfo]
    router: Router
    validators: Sequence[ValidatorSlot]
    vctx: ValidationContext
    writer: BatchWriter
    hooks: Hooks
    emit: Callable[[Event], None]
    failover: bool = True
    """Move a task whose provider gave up on it to the next eligible one; else it waits for its provider."""
    accepted: int = 0
    rejected: int = 0
    last_rejection: str | None = None
    """Why the latest task this process rejected was rejected, for the job's stop line."""
    recent: collections.deque[bool] = attrs.field(factory=collections.deque)
    """The outcomes of the tasks this process finished lately (True: accepted), for the rejection-rate stop."""
    halted: Callable[[], bool] = attrs.field(default=lambda: False)
    """True once a budget is reached: no attempt starts, the task goes back to pending with the leases."""

    def __attrs_post_init__(self) -> None:
        self.recent = collections.deque(maxlen=self.spec.stop_window)

    async def run_task(self, task: Task) -> None:
        feedback: tuple[Issue, ...] = ()
        number = task.attempts
        while number < self.spec.max_attempts:
            if self.halted():
                return
            number += 1
            outcome = await self._attempt(task, number, feedback)
            if isinstance(outcome, Attempt):
                feedback = outcome.issues
                if number < self.spec.max_attempts:
                    await self.writer.submit(Retry(task, outcome))
                    continue
                await self._reject(task, outcome, outcome.issues)
                return
            if isinstance(outcome, RequestRefused):
                refusal = Issue("provider_refused", str(outcome), hint="no provider will serve this request")
                await self._reject(task, None, (refusal,))
                return
            attempt, sample = outcome
            pending = await self.writer.submit(Accept(task, attempt, sample))
            result = await pending.wait()
            if result.applied:
                self.accepted += 1
                self.recent.append(True)
                return
            if not result.duplicate:  # fenced out: another worker owns this task now
                return
            feedback = (
                Issue(
                    "duplicate",
                    "this sample duplicates one already in the dataset",
                    hint="write about a different aspect of the topic",
                ),
            )
        await self._reject(task, None, feedback)

    async def _reject(self, task: Task, attempt: Attempt | None, reasons: tuple[Issue, ...]) -> None:
        self.rejected += 1
        self.recent.append(False)
        await self.writer.submit(Reject(task, attempt, reasons))
        summary = "; ".join(i.as_feedback() for i in reasons[:3])
        if reasons:
            self.last_rejection = reasons[0].message
        self.emit(Event("task_rejected", task.job, summary, "warning", task_index=task.index))

    async def _attempt(
        self, task: Task, number: int, feedback: tuple[Issue, ...]
    ) -> Attempt | tuple[Attempt, Sample] | RequestRefused:
        async def call(request: GenerationRequest, provider: str | None) -> tuple[ProviderInfo, Generation]:
            if provider is not None:
                policy = named_policy(self.policies, provider)
                return policy.info, await pinned_generate(policy, request)
            info = self._route(task, {})
            return await self._generate(task, attrs.evolve(request, model=info.model or None), info)

        context = ModeContext(
            self.spec, self.template, task, number, feedback, call, request_seed(self.spec.seed, task.index)
        )
        try:
            production = await self.mode.produce(context)
        except RequestRefused as refused:
            return refused
        return await self._validate(task, number, production, feedback)

    def _route(self, task: Task, gave_up: dict[str, str]) -> ProviderInfo:
        """The router's pick among the providers that are available and have not given the task up."""
        policies = self.policies
        candidates = [i for i in self.infos if i.name not in gave_up and policies[i.name].available()]
        if not candidates:
            raise NoProviderLeft(self._nobody_left(gave_up))
        try:
            return self.router.choose(task, candidates)
        except DestilationError:  # e.g. the one provider a routing rule allows is unavailable: wait for it
            if len(candidates) == len(self.infos):
                raise
            raise NoProviderLeft(self._nobody_left(gave_up)) from None

    async def _generate(
        self, task: Task, request: GenerationRequest, info: ProviderInfo
    ) -> tuple[ProviderInfo, Generation]:
        """An answer from the first provider of the task's route that gives one.

        A provider gives the request up with `ProviderUnavailable`: with failover the task moves
        on to the next provider that is available and has not given it up yet; without, it waits
        and asks the same one again. When none is left, `NoProviderLeft` pauses the job.
        """
        gave_up: dict[str, str] = {}
        refused: set[str] = set()
        while True:
            started = time.perf_counter()
            try:
                generation = await self.policies[info.name].generate(request)
            except ProviderUnavailable as exc:
                self.router.observe(info.name, False, time.perf_counter() - started)
                first = info.name not in gave_up
                cause = gave_up[info.name] = cause_of(info.name, str(exc))
                if exc.refused:
                    refused.add(info.name)
                if len(refused) == len(self.infos):
                    reasons = "; ".join(f"{name}: {why}" for name, why in gave_up.items())
                    raise RequestRefused(redact_text(f"every provider refused the request: {reasons}")) from None
                if self.failover or len(self.infos) == 1:
                    left, info = info.name, self._route(task, gave_up)
                    self._tell(
                        "provider_failover", task, left, f"task {task.index} moved from {left} to {info.name}: {cause}"
                    )
                    request = attrs.evolve(request, model=info.model or None)
                elif any(self.policies[i.name].available() for i in self.infos):
                    if first:
                        self._tell(
                            "provider_wait", task, info.name, f"task {task.index} waits for {info.name}: {cause}"
                        )
                    await anyio.sleep(PINNED_WAIT_S)  # the task waits for its provider; the others work on
                else:
                    raise NoProviderLeft(self._nobody_left(gave_up)) from None
                continue
            except ProviderAborted as exc:
                cause = redact_text(cause_of(info.name, str(exc)))
                raise JobAborted(f"provider {info.name!r} stopped the job: {cause}") from None
            self.router.observe(info.name, True, generation.latency_s)
            return info, generation

    def _tell(self, kind: str, task: Task, provider: str, message: str) -> None:
        """One event per task and provider it leaves or waits for, at info level (health counts failovers too)."""
        self.emit(Event(kind, task.job, message, provider=provider, task_index=task.index))

    def _nobody_left(self, gave_up: dict[str, str]) -> str:
        """The pause's reason: why each provider cannot take the task."""

        def why(name: str) -> str:
            if name in gave_up:
                return gave_up[name]
            return "not on this task's route" if self.policies[name].available() else "circuit open"

        reasons = "; ".join(f"{i.name}: {why(i.name)}" for i in self.infos)
        return redact_text(" ".join(f"{UNAVAILABLE}: {reasons}".split()))

    async def _validate(
        self, task: Task, number: int, production: Production, feedback: tuple[Issue, ...] = ()
    ) -> Attempt | tuple[Attempt, Sample]:
        info, generation = production.provider, production.generation
        candidate = Candidate(task, generation)
        issues: tuple[Issue, ...] = ()
        scores: dict[str, float] = {}
        calls: list[Generation] = []
        for slot in self.validators:
            verdict = await slot.validator.check(candidate, self.vctx)
            if verdict.has_content:
                candidate = attrs.evolve(candidate, content=verdict.content)
            scores.update(verdict.scores)
            calls += verdict.calls
            if not verdict.ok:
                issues = verdict.issues
                break
        if not issues and not candidate.parsed:
            try:
                candidate = attrs.evolve(candidate, content=strict_json(generation.text))
            except (ValueError, RecursionError) as exc:
                issues = (Issue("invalid_json", f"the answer is not JSON: {exc}", hint="answer with JSON only"),)
        cost = generation.cost
        if cost is None:
            cost = self.hooks.estimate_cost(info.name, generation.model, generation.usage)
        usage = generation.usage
        for call in calls:  # a judge's answers are part of what this attempt cost
            usage += call.usage
            cost += self.hooks.estimate_cost(call.provider, call.model, call.usage) if call.cost is None else call.cost
        attempt = Attempt(
            number,
            info.name,
            generation.model,
            ok=not issues,
            latency_s=generation.latency_s,
            usage=usage,
            cost=cost,
            finish_reason=generation.finish_reason,
            issues=issues,
            payload=make_payload(production.prompt, generation, feedback)
            if keeps(self.spec.keep_attempts, not issues)
            else None,
        )
        if issues:
            return attempt
        turns, preamble = split_preamble(production.prompt, self.template.preamble)
        sample = Sample(
            job=task.job,
            task_index=task.index,
            content=candidate.content,
            content_hash=self.hooks.fingerprint(candidate.content),
            template_id=self.template.id,
            template_version=self.template.version,
            provider=info.name,
            model=generation.model,
            attempts=number,
            usage=usage,
            cost=cost,
            scores=scores,
            reasoning=generation.reasoning,
            tool_calls=generation.tool_calls,
            mode=self.mode.name,
            latency_s=generation.latency_s,
            seed=task.seed,
            messages=safe_messages(turns),
            preamble=preamble,
        )
        return attempt, sample
