"""`destiler run JOB.toml --estimate`: what a job is expected to send and cost, before it sends anything.

A guess, and it says so: each sample takes `ATTEMPTS_PER_SAMPLE` requests (retries of rejected
answers and replaced tasks), a prompt is its rendered messages' characters / 4, an answer is
`max_tokens` long (else `COMPLETION_GUESS`), and requests spread evenly over the providers of
the route, each priced by the `estimate_cost` hook. Modes that call more than once per attempt,
and judges, add requests of their own that this does not count.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from destilation.config import JobSpec
from destilation.domain import JSON, Usage
from destilation.engine.planner import Planner
from destilation.policy.lanes import COMPLETION_GUESS
from destilation.templates import Template

ATTEMPTS_PER_SAMPLE = 1.2
"""Requests a sample is assumed to take on average."""
SAMPLED_SEEDS = 20
"""Tasks rendered to measure the prompt: the first ones the job would plan."""


@attrs.frozen
class ProviderEstimate:
    name: str
    model: str
    requests: int
    cost_usd: float


@attrs.frozen
class Estimate:
    samples: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    providers: tuple[ProviderEstimate, ...]
    assumptions: str

    def as_json(self) -> dict[str, JSON]:
        return {
            "samples": self.samples,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "providers": [
                {"name": p.name, "model": p.model, "requests": p.requests, "cost_usd": round(p.cost_usd, 6)}
                for p in self.providers
            ],
            "assumptions": self.assumptions,
        }

    def lines(self) -> list[str]:
        out = [
            f"{self.samples} samples: about {self.requests} requests, {self.prompt_tokens} prompt tokens, "
            f"{self.completion_tokens} completion tokens, ${self.cost_usd:.4f}",
        ]
        out += [
            f"  {p.name} ({p.model or 'default model'}): {p.requests} requests, ${p.cost_usd:.4f}"
            for p in self.providers
        ]
        out.append(f"assumed: {self.assumptions}")
        return out


def prompt_tokens(template: Template, planner: Planner, count: int) -> int:
    """Tokens of one first attempt's prompt, averaged over the first tasks the job would plan."""
    seeds = list(planner.seeds(0, min(count, SAMPLED_SEEDS)))
    chars = sum(len(message.content) for seed in seeds for message in template.render(seed))
    return math.ceil(chars / len(seeds) / 4) if seeds else 0


def estimate_job(
    spec: JobSpec, template: Template, planner: Planner, price: Callable[[str, str, Usage], float]
) -> Estimate:
    """Expected requests, tokens and cost of `spec`; `price` is the `estimate_cost` hook."""
    requests = math.ceil(spec.count * ATTEMPTS_PER_SAMPLE)
    per_prompt = prompt_tokens(template, planner, spec.count)
    per_answer = spec.max_tokens if spec.max_tokens is not None else COMPLETION_GUESS
    routed = [(name, p) for name, p in spec.providers.items() if p.route] or list(spec.providers.items())
    providers = []
    for position, (name, provider) in enumerate(routed):
        share = requests // len(routed) + (1 if position < requests % len(routed) else 0)
        usage = Usage(prompt_tokens=per_prompt * share, completion_tokens=per_answer * share)
        providers.append(ProviderEstimate(name, provider.model, share, price(name, provider.model, usage) or 0.0))
    answer = f"max_tokens = {spec.max_tokens}" if spec.max_tokens is not None else f"{COMPLETION_GUESS} tokens"
    return Estimate(
        samples=spec.count,
        requests=requests,
        prompt_tokens=per_prompt * requests,
        completion_tokens=per_answer * requests,
        cost_usd=sum(p.cost_usd for p in providers),
        providers=tuple(providers),
        assumptions=(
            f"{ATTEMPTS_PER_SAMPLE:g} requests per sample, spread evenly over the route; prompts of "
            f"{per_prompt} tokens (characters / 4); answers of {answer}; prices from the providers' "
            "configured pricing (0 where none is known); judges and multi-call modes add their own requests"
        ),
    )
