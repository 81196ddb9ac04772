"""The `judge` validator: one of the job's providers scores each candidate against a rubric.

The judge's call goes through that provider's call policy (pacing, retries, health) by name,
and its answer is handed back in the verdict so its usage and cost count in the attempt's.
A candidate below the threshold is refused with the judge's reasons as its feedback; a reply
that is not a verdict refuses the candidate too (`judge_unparsable`): it is never an accept.
"""

from __future__ import annotations

from destilation import (
    Candidate,
    ConfigError,
    Generation,
    Issue,
    PluginContext,
    PluginError,
    RequestRefused,
    ValidationContext,
    Verdict,
)
from destilation_validators.judge_config import JudgeConfig
from destilation_validators.judge_prompt import judge_request
from destilation_validators.judge_reply import JudgeReply, UnparsableReply, parse_reply

SCORE = "judge"
"""The weighted score's key in `Sample.scores` (`meta.scores.judge`); each criterion's is `judge.<name>`."""


def weighted_score(config: JudgeConfig, scores: dict[str, int]) -> float:
    total = sum(c.weight for c in config.rubric)
    return round(sum(c.weight * scores[c.name] for c in config.rubric) / total, 4)


def score_table(config: JudgeConfig, reply: JudgeReply) -> dict[str, float]:
    table: dict[str, float] = {SCORE: weighted_score(config, reply.scores)}
    table.update({f"{SCORE}.{name}": float(score) for name, score in reply.scores.items()})
    return table


def low_score_issue(config: JudgeConfig, reply: JudgeReply, score: float) -> Issue:
    """The feedback: the score against the threshold, the judge's reasons, and the weakest criteria."""
    reasons = reply.reasons or "the judge gave no reasons"
    weakest = sorted(config.rubric, key=lambda c: reply.scores[c.name])[:3]
    below = ", ".join(f"{c.name} {reply.scores[c.name]}/10" for c in weakest)
    return Issue(
        "judge_low_score",
        f"the judge scored it {score:.1f} of 10, below the threshold {config.threshold:g}: {reasons}",
        hint=f"improve the weakest criteria ({below}) as the judge's reasons say",
    )


class JudgeValidator:
    """Asks the configured provider for a verdict on each candidate and checks it strictly."""

    name = "judge"

    def __init__(self, config: JudgeConfig, context: PluginContext) -> None:
        del context  # the judge is reached through each check's ValidationContext
        self.config = config
        self._criteria = [c.name for c in config.rubric]

    async def open(self, context: ValidationContext) -> None:
        """Refuse a job whose judge provider is not one of its providers, before any work."""
        names = list(context.providers.names()) if context.providers is not None else []
        if self.config.provider not in names:
            raise ConfigError(
                f"job {context.job}",
                f"the judge's provider {self.config.provider!r} is not a provider of this job "
                f"(it has {', '.join(names) or 'none'}); add [providers.{self.config.provider}] with route = false",
                "$.validators.judge.provider",
            )

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        if context.providers is None:
            raise PluginError("validator 'judge' needs the job's providers: it runs only inside a job")
        request = judge_request(self.config, context.template, candidate)
        try:
            answer = await context.providers.generate(self.config.provider, request)
        except RequestRefused as exc:  # the judge will not look at this one: not an accept either
            return Verdict(issues=(self._failure(f"the judge refused to score it: {exc}"),))
        return self._verdict(answer)

    def _verdict(self, answer: Generation) -> Verdict:
        try:
            reply = parse_reply(answer.text, self._criteria, answer.finish_reason)
        except UnparsableReply as exc:
            return Verdict(issues=(self._failure(f"the judge's reply is not a verdict: {exc}"),), calls=(answer,))
        scores = score_table(self.config, reply)
        if scores[SCORE] < self.config.threshold:
            return Verdict(issues=(low_score_issue(self.config, reply, scores[SCORE]),), scores=scores, calls=(answer,))
        return Verdict(scores=scores, calls=(answer,))

    def _failure(self, message: str) -> Issue:
        return Issue("judge_unparsable", message, hint="the answer could not be judged; answer again")
