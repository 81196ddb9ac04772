"""Shared fixtures: a plugin context, candidates and a validation context around a small template."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from destilation import Candidate, Generation, PluginContext, Task, TaskSeed, Template, ValidationContext

QA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 10},
        "answer": {"type": "string", "minLength": 1},
    },
    "required": ["question", "answer"],
    "additionalProperties": False,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def context(tmp_path: Any) -> PluginContext:
    def no_http(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validators make no HTTP calls")

    return PluginContext(data_dir=str(tmp_path), emit=lambda event: None, http_client=no_http)


@pytest.fixture
def template() -> Template:
    return Template(
        id="qa",
        version="1",
        mode="simple",
        schema=QA_SCHEMA,
        system_prompt="Write a question and its answer.",
        user_prompt="Topic: {topic}",
    )


class NoStore:
    """Stands in for the store where a validator must not touch it."""

    async def has_content_hash(self, job: str, content_hash: str) -> bool:
        raise AssertionError("this validator must not query the store")


@pytest.fixture
def vctx(template: Template) -> ValidationContext:
    return ValidationContext(
        job="job",
        template=template,
        store=NoStore(),  # type: ignore[arg-type]
        fingerprint=lambda content: json.dumps(content, sort_keys=True),
    )


MakeCandidate = Callable[..., Candidate]


@pytest.fixture
def candidate() -> MakeCandidate:
    def make(text: str = "", finish_reason: str | None = "stop", **content: Any) -> Candidate:
        generation = Generation(text=text, provider="mock", model="m", finish_reason=finish_reason)
        task = Task(job="job", seed=TaskSeed(0))
        if "content" in content:
            return Candidate(task, generation, content["content"])
        return Candidate(task, generation)

    return make
