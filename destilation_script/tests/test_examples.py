"""The example providers speak the protocol correctly: answers that fit the schema, distinct per task."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import anyio
import jsonschema
import pytest

from destilation import GenerationRequest, Message, PluginContext, ProviderInfo
from destilation_script.config import ScriptConfig
from destilation_script.factory import make_provider

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "script"
SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string", "minLength": 10}, "answer": {"type": "string", "minLength": 1}},
    "required": ["question", "answer"],
    "additionalProperties": False,
}


def request(topic: str, seed: int) -> GenerationRequest:
    prompt = (
        f'Write one question and its answer.\nTopic: {topic}\nDifficulty: easy\nThe question is asked by: "a nurse"'
    )
    return GenerationRequest(
        messages=(Message("system", "You write training data."), Message("user", prompt)),
        model="m",
        response_schema=SCHEMA,
        seed=seed,
    )


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, str(EXAMPLES / "echo_provider.py")],
        pytest.param(
            ["bash", str(EXAMPLES / "provider.sh")],
            marks=pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash"),
        ),
    ],
    ids=["python", "bash"],
)
async def test_an_example_provider_answers_in_the_schema_several_at_once(
    command: list[str], context: PluginContext
) -> None:
    provider = make_provider(ScriptConfig(command=command), context, ProviderInfo("teacher", "script", "m"))
    answers: dict[tuple[str, int], str] = {}

    async def one(topic: str, seed: int) -> None:
        answers[topic, seed] = (await provider.generate(request(topic, seed))).text

    try:
        async with anyio.create_task_group() as group:
            for topic in ("black holes", "naïve Bayes"):
                for seed in (1, 2):
                    group.start_soon(one, topic, seed)
        again = (await provider.generate(request("black holes", 1))).text
        models = await provider.models()
    finally:
        await provider.aclose()
    contents = {key: json.loads(text) for key, text in answers.items()}
    for content in contents.values():
        jsonschema.validate(content, SCHEMA)
    assert "black holes" in contents["black holes", 1]["question"]
    assert "naïve Bayes" in contents["naïve Bayes", 2]["question"]
    assert len({c["question"] for c in contents.values()}) == 4  # distinct per task
    assert again == answers["black holes", 1]  # deterministic
    assert len(models) == 1
