"""Job control: after each commit the runner asks whether the job goes on, pauses or stops (DESIGN §9).

A rule sees a `Progress` snapshot and answers `Continue`, `Pause(reason)` or `Stop(reason)`;
`JobControl` asks its rules in order and the first that does not continue decides. The task
limit, the rejection-rate stop and the budgets are rules: core guarantees, built from the job's
spec by `control_for`. A pause waits for the tasks in flight and is never resumed by itself; a
stop ends the job `failed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from destilation.config import JobSpec


@attrs.frozen
class Spend:
    """What the job has used so far, from every process and run: requests sent, tokens, USD."""

    requests: int = 0
    tokens: int = 0
    cost: float = 0.0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.requests + other.requests, self.tokens + other.tokens, self.cost + other.cost)


@attrs.frozen
class Progress:
    """Where the job stands when a rule is asked, as fresh as the runner's last count of tasks."""

    job: str
    target: int
    accepted: int
    rejected: int
    planned: int
    open_tasks: int
    """Tasks pending or running in the store."""
    in_flight: int
    """Tasks this process holds (claimed, being worked)."""
    recent: Sequence[bool] = ()
    """The outcomes of the tasks this process finished lately, oldest first: True accepted, False rejected."""
    last_rejection: str | None = None
    spend: Spend = attrs.field(factory=Spend)


@attrs.frozen
class Continue:
    """The job goes on."""


@attrs.frozen
class Pause:
    """The job pauses once the tasks in flight are done; `destiler resume` continues it."""

    reason: str


@attrs.frozen
class Stop:
    """The job ends `failed` with this one-line reason."""

    reason: str


Decision = Continue | Pause | Stop
CONTINUE = Continue()
BUDGET_REACHED = "budget reached: "
"""How a budget pause's reason begins; the cap's key follows."""


class StopRule(Protocol):
    """One reason a job may have to pause or stop."""

    def decide(self, progress: Progress) -> Decision: ...


def _tasks_hint(job: str) -> str:
    return f"see `destiler tasks {job} --state rejected`"


@attrs.frozen
class TaskLimit:
    """Nothing left to work and no task may be planned: the job cannot reach its target."""

    limit: int

    def decide(self, progress: Progress) -> Decision:
        if progress.open_tasks or progress.in_flight or progress.planned < self.limit:
            return CONTINUE
        last = f" (the last: {progress.last_rejection})" if progress.last_rejection else ""
        return Stop(
            f"only {progress.accepted} of {progress.target} samples accepted: {progress.rejected} tasks rejected "
            f"and the task limit ({self.limit}) is reached{last}; {_tasks_hint(progress.job)}"
        )


@attrs.frozen
class RejectionRate:
    """Stop early when more than `rate` of the last `window` finished tasks were rejected.

    Never before `window` tasks finished, so a few unlucky first tasks stop nothing.
    """

    window: int
    rate: float

    def decide(self, progress: Progress) -> Decision:
        if len(progress.recent) < self.window:
            return CONTINUE
        rejected = list(progress.recent)[-self.window :].count(False)
        if rejected <= self.rate * self.window:
            return CONTINUE
        last = f" (the last: {progress.last_rejection})" if progress.last_rejection else ""
        return Stop(
            f"stopped: {rejected} of the last {self.window} tasks were rejected{last}; {_tasks_hint(progress.job)}"
        )


@attrs.frozen
class Budget:
    """Pause when the job's requests, tokens or cost reach their cap (None: no cap)."""

    max_requests: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None

    @property
    def capped(self) -> bool:
        return (self.max_requests, self.max_tokens, self.max_cost_usd) != (None, None, None)

    def reached(self, spend: Spend) -> str | None:
        """The pause's reason when a cap is reached, else None."""
        if self.max_requests is not None and spend.requests >= self.max_requests:
            return f"{BUDGET_REACHED}max_requests {self.max_requests} (sent {spend.requests})"
        if self.max_tokens is not None and spend.tokens >= self.max_tokens:
            return f"{BUDGET_REACHED}max_tokens {self.max_tokens} (used {spend.tokens})"
        if self.max_cost_usd is not None and spend.cost >= self.max_cost_usd:
            return f"{BUDGET_REACHED}max_cost_usd {self.max_cost_usd:g} (spent {spend.cost:.4f})"
        return None

    def decide(self, progress: Progress) -> Decision:
        reason = self.reached(progress.spend)
        return CONTINUE if reason is None else Pause(reason)


@attrs.frozen
class JobControl:
    """The rules of one job, asked in order: the first that does not continue decides."""

    rules: Sequence[StopRule] = ()

    def decide(self, progress: Progress) -> Decision:
        for rule in self.rules:
            decision = rule.decide(progress)
            if not isinstance(decision, Continue):
                return decision
        return CONTINUE


def budget_of(spec: JobSpec) -> Budget:
    budget = spec.budget
    return Budget(budget.max_requests, budget.max_tokens, budget.max_cost_usd)


def control_for(spec: JobSpec, task_limit: int) -> JobControl:
    """The core rules for `spec`: budgets first (they pause), then the early stop and the task limit."""
    return JobControl(
        (budget_of(spec), RejectionRate(spec.stop_window, spec.stop_rejection_rate), TaskLimit(task_limit))
    )
