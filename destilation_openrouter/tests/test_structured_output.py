"""Structured output that adapts: each mode against a server that takes it, discovery, and whole jobs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fake_openai import FakeOpenAI, start_fake_openai
from job_helpers import kit_app
from openrouter_helpers import json_reply, serve

from destilation import (
    Event,
    GenerationRequest,
    Message,
    PluginContext,
    PluginError,
    ProviderError,
    ProviderHealth,
    ProviderInfo,
    Secret,
)
from destilation.config import JobSpec, structure
from destilation.health import format_health, merge_health
from destilation.http import make_http_client
from destilation.testing import TestingKit, job_table
from destilation_openrouter.config import OpenRouterConfig
from destilation_openrouter.factory import make_provider
from destilation_openrouter.provider import OpenRouterProvider
from destilation_openrouter.structured import could_be_refusal, names_the_format

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
}
REQUEST = GenerationRequest(
    messages=(Message("system", "You write questions."), Message("user", "Write one about tides.")),
    response_schema=SCHEMA,
)


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def make(tmp_path: Path, events: list[Event]) -> Callable[..., OpenRouterProvider]:
    context = PluginContext(data_dir=str(tmp_path), emit=events.append, http_client=make_http_client, job="j")

    def build(base_url: str, **options: Any) -> OpenRouterProvider:
        return make_provider(OpenRouterConfig(base_url=base_url, **options), context, ProviderInfo("t", "openai", "m"))

    return build


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[tuple[FakeOpenAI, str]]:
    server = FakeOpenAI(**getattr(request, "param", {}))
    with start_fake_openai(server) as base_url:
        yield server, base_url


def answer_fits(text: str) -> None:
    content = json.loads(text)
    assert set(content) == {"question", "answer"}


def parametrize_server(**knobs: Any) -> Any:
    return pytest.mark.parametrize("served", [knobs], indirect=True)


@pytest.mark.anyio
@parametrize_server()
async def test_a_server_that_takes_json_schema_keeps_it(served: Any, make: Any, events: list[Event]) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        assert provider.health_details() == {"structured_output": "auto"}
        for _ in range(3):
            answer_fits((await provider.generate(REQUEST)).text)
        assert provider.health_details() == {"structured_output": "json_schema"}
    assert server.formats == ["json_schema"] * 3
    assert [(e.kind, e.job, e.provider, e.data) for e in events] == [
        ("structured_output", "j", "t", {"mode": "json_schema", "refused": []})
    ]


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"])
async def test_a_500_to_json_schema_is_verified_then_json_object_with_the_schema_is_kept(
    served: Any, make: Any, events: list[Event]
) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        answer_fits((await provider.generate(REQUEST)).text)
        answer_fits((await provider.generate(REQUEST)).text)
        assert provider.health_details() == {"structured_output": "json_object"}
    # Refused, verified by the same request without a response format, then json_object from then on.
    assert server.formats == ["json_schema", "", "json_object", "json_object"]
    assert server.last_body is not None and server.last_body["response_format"] == {
        "type": "json_object",
        "schema": SCHEMA,
    }
    (event,) = events
    assert event.data["mode"] == "json_object"
    assert event.data["refused"] == ["json_schema: t: HTTP 500: Internal Server Error"]
    assert "settled on json_object" in event.message


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema", "json_object"])
async def test_a_server_that_takes_neither_settles_on_the_prompt(served: Any, make: Any, events: list[Event]) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        first = await provider.generate(REQUEST)
        answer_fits(first.text)  # the verifying answer, asked in the prompt, is the one returned
        answer_fits((await provider.generate(REQUEST)).text)
        assert provider.health_details() == {"structured_output": "prompt"}
    assert server.formats == ["json_schema", "", "json_object", ""]
    assert server.last_body is not None
    system = server.last_body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You write questions.\n\nAnswer with one JSON value")
    assert json.loads(system["content"].rsplit("\n", 1)[1]) == SCHEMA
    assert [e.data["mode"] for e in events] == ["prompt"]


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"], refuse_status=400, refuse_message="response_format json_schema unsupported")
async def test_an_error_that_names_the_format_needs_no_verification(served: Any, make: Any) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        answer_fits((await provider.generate(REQUEST)).text)
    assert server.formats == ["json_schema", "json_object"]


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema", "json_object", ""], refuse_status=500)
async def test_a_server_failing_everything_is_not_a_refusal(served: Any, make: Any, events: list[Event]) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        with pytest.raises(ProviderError, match="HTTP 500") as info:
            await provider.generate(REQUEST)
        assert info.value.status == 500
        assert provider.health_details() == {"structured_output": "auto"}
    assert server.formats == ["json_schema", ""]
    assert events == []


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"], refuse_status=429, refuse_message="slow down")
async def test_overload_is_raised_for_the_call_policy_and_discovery_resumes_later(
    served: Any, make: Any, events: list[Event]
) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        for _ in range(2):
            with pytest.raises(ProviderError, match="HTTP 429"):
                await provider.generate(REQUEST)
        server.refuse = frozenset()
        answer_fits((await provider.generate(REQUEST)).text)
        assert provider.health_details() == {"structured_output": "json_schema"}
    assert server.formats == ["json_schema"] * 3
    assert len(events) == 1


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"])
async def test_a_refusal_after_the_verification_falls_through_once_the_fault_clears(served: Any, make: Any) -> None:
    """json_schema refused (verified); json_object then meets an overload; the next call resumes at json_object."""
    server, base_url = served
    async with make(base_url) as provider:
        server.refuse = frozenset({"json_schema"})
        server.fail_every, server.fail_status = 3, 503  # the third request (json_object) is overloaded
        with pytest.raises(ProviderError, match="HTTP 503"):
            await provider.generate(REQUEST)
        server.fail_every = 0
        answer_fits((await provider.generate(REQUEST)).text)
        assert provider.health_details() == {"structured_output": "json_object"}
    assert server.formats == ["json_schema", "", "json_object", "json_object"]


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"], latency_ms=20)
async def test_concurrent_first_requests_share_one_discovery(served: Any, make: Any, events: list[Event]) -> None:
    """The others follow in json_schema, are refused, wait for the one discovery and resend in its mode."""
    server, base_url = served
    async with make(base_url) as provider, anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(provider.generate, REQUEST)
    assert Counter(server.formats) == {"json_schema": 12, "": 1, "json_object": 12}
    assert len(events) == 1


@pytest.mark.anyio
@parametrize_server(latency_ms=20)
async def test_concurrent_first_requests_to_a_server_that_takes_json_schema_do_not_wait(
    served: Any, make: Any, events: list[Event]
) -> None:
    server, base_url = served
    async with make(base_url) as provider, anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(provider.generate, REQUEST)
    assert server.formats == ["json_schema"] * 12
    assert [e.data for e in events] == [{"mode": "json_schema", "refused": []}]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "sent"), [("json_schema", "json_schema"), ("json_object", "json_object"), ("prompt", "")]
)
@parametrize_server()
async def test_a_configured_mode_is_used_as_is(
    served: Any, make: Any, events: list[Event], mode: str, sent: str
) -> None:
    server, base_url = served
    async with make(base_url, structured_output=mode) as provider:
        assert provider.health_details() == {"structured_output": mode}
        answer_fits((await provider.generate(REQUEST)).text)
        assert "structured output: " + mode in await provider.probe(REQUEST)
    assert server.formats == [sent, sent]
    assert events == []


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"])
async def test_a_configured_mode_that_is_refused_is_an_error(served: Any, make: Any) -> None:
    _, base_url = served
    async with make(base_url, structured_output="json_schema") as provider:
        with pytest.raises(ProviderError, match="HTTP 500"):
            await provider.generate(REQUEST)


@pytest.mark.anyio
@parametrize_server()
async def test_a_response_format_in_extra_body_is_the_users_choice(served: Any, make: Any) -> None:
    server, base_url = served
    async with make(base_url, extra_body={"response_format": {"type": "json_object"}}) as provider:
        await provider.generate(REQUEST)
        assert provider.health_details() == {"structured_output": "extra_body"}
    assert server.formats == ["json_object"]
    assert server.last_body is not None and server.last_body["messages"][0]["content"] == "You write questions."


@pytest.mark.anyio
@parametrize_server(refuse=["json_schema"])
async def test_probe_runs_the_discovery_and_names_the_mode(served: Any, make: Any) -> None:
    _, base_url = served
    async with make(base_url) as provider:
        assert await provider.probe(REQUEST) == "structured output: json_object, answered as m"


@pytest.mark.anyio
@parametrize_server()
async def test_requests_without_a_schema_take_no_part(served: Any, make: Any) -> None:
    server, base_url = served
    async with make(base_url) as provider:
        await provider.generate(GenerationRequest(messages=(Message("user", "hi"),)))
        assert provider.health_details() == {"structured_output": "auto"}
    assert server.formats == [""]


@pytest.mark.parametrize(("old", "new"), [(True, "json_schema"), (False, "prompt")])
def test_the_old_boolean_is_refused_with_a_hint(make: Any, old: bool, new: str) -> None:
    with pytest.raises(PluginError, match=f'structured_outputs was replaced.*structured_output = "{new}"'):
        make("http://127.0.0.1:9/v1", structured_outputs=old)


def test_which_errors_may_be_refusals() -> None:
    assert could_be_refusal(ProviderError("x", status=500))
    assert could_be_refusal(ProviderError("x", status=400))
    for status in (None, 200, 401, 402, 403, 429, 503, 600):
        assert not could_be_refusal(ProviderError("x", status=status))
    assert names_the_format(ProviderError("Unsupported: Response_Format"))
    assert not names_the_format(ProviderError("model not found"))


# --- whole jobs --------------------------------------------------------------------------------


async def run_job(
    tmp_path: Path, base_url: str, count: int = 6, **options: Any
) -> tuple[Any, OpenRouterProvider, list[Event], list[ProviderHealth]]:
    """A job on the testing kit against one `openai` provider, one attempt per task: its outcome,
    provider, events and the health rows it stored."""
    kit = TestingKit()
    app = kit_app(tmp_path, kit)
    provider_table = {"kind": "openai", "model": "fake/model", "base_url": base_url, "concurrency": 4, **options}
    table = job_table(count=count, max_attempts=1)
    table["providers"] = {"teacher": provider_table}
    spec = structure(table, JobSpec, source="job.toml")
    prepared = app.prepare(spec, "job.toml")
    (provider,) = prepared.providers
    assert isinstance(provider, OpenRouterProvider)
    outcome = await app.run(spec, table, "job.toml", resume=False, handle_signals=False, prepared=prepared)
    store = kit.stores["memory://"]
    return outcome, provider, await store.list_events("job"), await store.provider_health("job")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("refuse", "mode", "stream"),
    [
        ((), "json_schema", False),
        (("json_schema",), "json_object", False),
        (("json_schema", "json_object"), "prompt", False),
        (("json_schema",), "json_object", True),
    ],
)
async def test_a_job_delivers_its_count_whatever_the_server_takes(
    tmp_path: Path, refuse: tuple[str, ...], mode: str, stream: bool
) -> None:
    server = FakeOpenAI(refuse=refuse)
    with start_fake_openai(server) as base_url:
        outcome, provider, events, health = await run_job(tmp_path, base_url, stream=stream)
    assert outcome.accepted == 6
    assert outcome.rejected == 0
    assert provider.health_details() == {"structured_output": mode}
    settled = [e for e in events if e.kind == "structured_output"]
    assert [(e.provider, e.data["mode"]) for e in settled] == [("teacher", mode)]
    assert not [e for e in events if e.kind in ("provider_error", "task_rejected")]
    # What `destiler show` prints: the health row the run stored carries the mode it settled on.
    (row,) = merge_health(health)
    assert row.details == {"structured_output": mode}
    assert f"structured_output: {mode}" in format_health(row)


@pytest.mark.anyio
async def test_the_key_never_reaches_the_event_or_the_health_details(make: Any, events: list[Event]) -> None:
    key = "sk-or-v1-structured-secret-0123456789"
    server = FakeOpenAI(refuse=["json_schema"], refuse_message=f"schema refused for key {key}")
    with start_fake_openai(server) as base_url:
        async with make(base_url, api_key=Secret(key)) as provider:
            await provider.generate(REQUEST)
            details = provider.health_details()
    (event,) = events
    assert event.data["mode"] == "json_object"
    assert "schema refused for key" in event.message
    assert key not in json.dumps([event.message, event.data, details])


@pytest.mark.anyio
async def test_probe_says_when_the_answer_was_not_json(make: Any) -> None:
    prose = {"model": "m", "choices": [{"message": {"content": "Sure! Here you go: ok"}, "finish_reason": "stop"}]}
    async with serve(json_reply(prose)) as base_url, make(base_url) as provider:
        said = await provider.probe(REQUEST)
    assert (
        said == "structured output: json_schema, answered as m (but the answer was not JSON: 'Sure! Here you go: ok')"
    )


class FirstFails(FakeOpenAI):
    """Its first chat request gets `status` (and is recorded as "failed"), whatever its format."""

    def __init__(self, status: int, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.status = status

    def chat(self, headers: Any, raw: bytes) -> Any:
        if self.requests == 0:
            self.requests += 1
            self.formats.append("failed")
            return (self.status, json.dumps({"error": {"message": "not now"}}), {}), self.latency_s
        return super().chat(headers, raw)


async def generate_many(make: Any, server: FakeOpenAI, n: int) -> list[str]:
    """`n` concurrent first requests; what each ended with, sorted."""
    outcomes: list[str] = []

    async def one() -> None:
        try:
            answer_fits((await provider.generate(REQUEST)).text)
            outcomes.append("ok")
        except ProviderError as exc:
            outcomes.append(f"error {exc.status}")

    with start_fake_openai(server) as base_url:
        async with make(base_url) as provider, anyio.create_task_group() as group:
            for _ in range(n):
                group.start_soon(one)
    return sorted(outcomes)


@pytest.mark.anyio
async def test_when_the_discovering_request_fails_a_waiting_one_takes_over(make: Any, events: list[Event]) -> None:
    server = FirstFails(429, refuse=["json_schema"], latency_ms=20)
    assert await generate_many(make, server, 6) == ["error 429"] + ["ok"] * 5
    # The five that followed were refused; one of them ran the discovery again (json_schema,
    # verified without a format, json_object) and the other four resent in json_object.
    assert Counter(server.formats) == {"failed": 1, "json_schema": 6, "": 1, "json_object": 5}
    assert [e.data["mode"] for e in events] == ["json_object"]


@pytest.mark.anyio
async def test_a_passing_fault_is_not_taken_for_a_refusal_when_the_followers_got_through(
    make: Any, events: list[Event]
) -> None:
    """The discovering request meets a 500 while the ones that followed in json_schema get answers."""
    server = FirstFails(500, latency_ms=20)
    assert await generate_many(make, server, 6) == ["ok"] * 6  # the first one answers after its verification
    assert [e.data for e in events] == [{"mode": "json_schema", "refused": []}]
    assert Counter(server.formats) == {"failed": 1, "json_schema": 5, "": 1}


@pytest.mark.anyio
async def test_followers_meeting_an_overload_raise_it_for_the_call_policy(make: Any, events: list[Event]) -> None:
    server = FakeOpenAI(refuse=["json_schema"], refuse_status=429, latency_ms=20)
    assert await generate_many(make, server, 4) == ["error 429"] * 4
    assert server.formats == ["json_schema"] * 4
    assert events == []
