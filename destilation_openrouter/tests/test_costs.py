"""What an answer cost: OpenRouter's reported cost, else its price list, else the configured prices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, start_fake_openai
from job_helpers import kit_app
from openrouter_helpers import KEY, json_reply, serve

import destilation_openrouter.plugin
from destilation import GenerationRequest, Message, Secret, Usage
from destilation.config import JobSpec, structure
from destilation.plugins import make_plugin_manager
from destilation.testing import TestingKit, job_table
from destilation_openrouter.costs import estimate
from destilation_openrouter.pricing import parse_prices

HELLO = GenerationRequest(messages=(Message("user", "hello there"),))


@pytest.mark.anyio
async def test_openrouter_answers_without_a_cost_are_priced_from_its_model_list(build: Any) -> None:
    server = FakeOpenAI(prices=("0.000002", "0.00001"))
    with start_fake_openai(server) as base_url:
        async with build(base_url, kind="openrouter", model="fake/model", api_key=Secret(KEY)) as provider:
            first = await provider.generate(HELLO)
            second = await provider.generate(HELLO)
    usage = first.usage
    assert first.cost == pytest.approx(usage.prompt_tokens * 2e-6 + usage.completion_tokens * 1e-5)
    assert second.cost == pytest.approx(first.cost)
    assert server.model_lists == 1  # read once, kept for the job


@pytest.mark.anyio
async def test_a_reported_cost_comes_first_and_the_list_is_never_read(build: Any, fake: Any) -> None:
    server, base_url = fake
    async with build(base_url, kind="openrouter", model="fake/model", api_key=Secret(KEY)) as provider:
        generation = await provider.generate(HELLO)
    assert generation.cost == pytest.approx(generation.usage.total_tokens * 1e-6)
    assert server.model_lists == 0


@pytest.mark.anyio
async def test_a_model_missing_from_the_list_or_a_list_that_fails_prices_nothing(build: Any) -> None:
    server = FakeOpenAI(prices=("0.1", "0.1"), model="listed/model")
    with start_fake_openai(server) as base_url:
        async with build(base_url, kind="openrouter", model="other/model", api_key=Secret(KEY)) as provider:
            assert (await provider.generate(HELLO)).cost is None
    completion = {"model": "m", "choices": [{"message": {"content": "x"}}]}

    async def routes(request: Any) -> Any:
        if request.path.endswith("/models"):
            return await json_reply({"error": {"message": "down"}}, status=503)(request)
        return await json_reply(completion)(request)

    async with serve(routes) as base_url, build(base_url, kind="openrouter", api_key=Secret(KEY)) as provider:
        assert (await provider.generate(HELLO)).cost is None
        assert (await provider.generate(HELLO)).cost is None


def test_prices_are_read_leniently() -> None:
    raw = (
        b'{"data": [{"id": "a", "pricing": {"prompt": "0.5", "completion": "1"}},'
        b' {"id": "b", "pricing": {"prompt": "free", "completion": "1"}},'
        b' {"id": "c", "pricing": {"prompt": "-1", "completion": "1"}},'
        b' {"id": "d"}, {"pricing": {}}, "junk"]}'
    )
    assert parse_prices(raw, "p") == {"a": (0.5, 1.0)}
    assert parse_prices(b'{"data": "none"}', "p") == {}


def test_configured_prices_price_what_a_server_does_not(context: Any, build: Any) -> None:
    build("http://127.0.0.1:9/v1", name="priced", price_prompt_per_mtok=3, price_completion_per_mtok=15)
    build("http://127.0.0.1:9/v1", name="unpriced")
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=2_000_000)
    assert estimate("priced", usage) == pytest.approx(33.0)
    assert estimate("unpriced", usage) == 0.0
    assert estimate("not-ours", usage) is None


def test_the_hook_answers_for_this_plugins_providers_only(build: Any) -> None:
    build("http://127.0.0.1:9/v1", name="hooked", price_prompt_per_mtok=1.0)
    pm = make_plugin_manager(load=False, extra=[destilation_openrouter.plugin])
    usage = Usage(prompt_tokens=2_000_000)
    assert pm.hook.estimate_cost(provider="hooked", model="m", usage=usage) == pytest.approx(2.0)
    assert pm.hook.estimate_cost(provider="someone-else", model="m", usage=usage) == 0.0  # the core's default


@pytest.mark.anyio
async def test_an_empty_answer_cut_at_the_token_limit_never_becomes_a_sample(tmp_path: Path) -> None:
    """A reasoning model that spent its whole budget thinking: a truncation, rejected, never a sample."""
    cut = {"model": "m", "choices": [{"message": {"content": "", "reasoning": "so much"}, "finish_reason": "length"}]}
    kit = TestingKit()
    app = kit_app(tmp_path, kit)
    async with serve(json_reply(cut)) as base_url:
        table = job_table(count=2, max_attempts=1, max_tasks=2)
        table["providers"] = {"teacher": {"kind": "openai", "model": "m", "base_url": base_url}}
        spec = structure(table, JobSpec, source="job.toml")
        outcome = await app.run(spec, table, "job.toml", resume=False, handle_signals=False)
    assert (outcome.accepted, outcome.rejected) == (0, 2)
    assert kit.dataset("job").records() == []
