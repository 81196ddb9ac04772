"""The attempt loop of one task: route, generate, validate, then accept, retry with feedback or reject."""

from __future__ import annotations

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
from destilation.engine.streams import take
from destilation.engine.wiring import ValidatorSlot
from destilation.engine.writer import BatchWriter
from destilation.errors import JobError
from destilation.interfaces import Accept, Provider, ProviderInfo, Reject, Retry, Router, ValidationContext
from destilation.templates import Template


class JobAborted(JobError):
    """A provider failure that retrying cannot mend (a bad key, no credits): the job stops."""


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


@attrs.define
class AttemptLoop:
    spec: JobSpec
    template: Template
    providers: dict[str, Provider]
    infos: Sequence[ProviderInfo]
    limiters: dict[str, anyio.CapacityLimiter]
    router: Router
    validators: Sequence[ValidatorSlot]
    vctx: ValidationContext
    writer: BatchWriter
    hooks: Hooks
    emit: Callable[[Event], None]
    accepted: int = 0
    rejected: int = 0

    async def run_task(self, task: Task) -> None:
        feedback: tuple[Issue, ...] = ()
        number = task.attempts
        while number < self.spec.max_attempts:
            number += 1
            info = self.router.choose(task, self.infos)
            outcome = await self._attempt(task, info, number, feedback)
            if isinstance(outcome, Attempt):
                feedback = outcome.issues
                if number < self.spec.max_attempts:
                    await self.writer.submit(Retry(task, outcome))
                    continue
                await self._reject(task, outcome, outcome.issues)
                return
            attempt, sample = outcome
            pending = await self.writer.submit(Accept(task, attempt, sample))
            result = await pending.wait()
            if result.applied:
                self.accepted += 1
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
        await self.writer.submit(Reject(task, attempt, reasons))
        summary = "; ".join(i.as_feedback() for i in reasons[:3])
        self.emit(Event("task_rejected", task.job, summary, "warning", task_index=task.index))

    async def _attempt(
        self, task: Task, info: ProviderInfo, number: int, feedback: tuple[Issue, ...]
    ) -> Attempt | tuple[Attempt, Sample]:
        request = GenerationRequest(
            messages=self.template.render(task.seed, feedback),
            model=info.model or None,
            temperature=self.spec.temperature,
            max_tokens=self.spec.max_tokens,
            response_schema=self.template.schema,
            reasoning="reasoning" in self.template.capabilities,
            seed=request_seed(self.spec.seed, task.index),
            attempt=number,
        )
        started = time.perf_counter()
        limiter = self.limiters[info.name]
        try:
            await take(limiter)
            try:
                generation = await self.providers[info.name].generate(request)
            finally:
                limiter.release()
        except Exception as exc:  # any provider failure is data about this attempt, never a crash
            return await self._provider_failed(task, info, number, exc, time.perf_counter() - started)
        self.router.observe(info.name, True, generation.latency_s)
        return await self._validate(task, info, number, generation)

    async def _provider_failed(
        self, task: Task, info: ProviderInfo, number: int, exc: Exception, latency: float
    ) -> Attempt:
        self.router.observe(info.name, False, latency)
        decision = self.hooks.classify_error(exc, info.name)
        message = f"{type(exc).__name__}: {exc}" if not str(exc).startswith(info.name) else str(exc)
        self.emit(Event("provider_error", task.job, message, "warning", provider=info.name, task_index=task.index))
        if decision == "abort":
            raise JobAborted(f"provider {info.name!r} failed and retrying cannot help: {exc}")
        if decision == "backoff":
            retry_after = getattr(exc, "retry_after", None)
            await anyio.sleep(retry_after if retry_after is not None else min(30.0, 0.25 * 2**number))
        issue = Issue("provider_error", message, hint="the provider failed; the request was retried")
        return Attempt(number, info.name, info.model, ok=False, latency_s=latency, issues=(issue,), error=message)

    async def _validate(
        self, task: Task, info: ProviderInfo, number: int, generation: Generation
    ) -> Attempt | tuple[Attempt, Sample]:
        candidate = Candidate(task, generation)
        issues: tuple[Issue, ...] = ()
        scores: dict[str, float] = {}
        for slot in self.validators:
            verdict = await slot.validator.check(candidate, self.vctx)
            if verdict.has_content:
                candidate = attrs.evolve(candidate, content=verdict.content)
            scores.update(verdict.scores)
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
        attempt = Attempt(
            number,
            info.name,
            generation.model,
            ok=not issues,
            latency_s=generation.latency_s,
            usage=generation.usage,
            cost=cost,
            finish_reason=generation.finish_reason,
            issues=issues,
        )
        if issues:
            return attempt
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
            usage=generation.usage,
            cost=cost,
            scores=scores,
            reasoning=generation.reasoning,
            tool_calls=generation.tool_calls,
        )
        return attempt, sample
