"""The event bus and the core's default decision hooks."""

from __future__ import annotations

import pytest

from destilation.defaults import classify_error, estimate_cost, fingerprint, normalise
from destilation.domain import Event, Usage
from destilation.events import EventBus
from destilation.interfaces import ProviderError
from destilation.plugins import make_plugin_manager


def test_bus_fans_out_stamps_and_keeps_non_progress_events() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe("list", seen.append)
    bus.emit(Event("job_started", "j"))
    bus.emit(Event("progress", "j", data={"accepted": 1, "target": 2}))
    assert [e.kind for e in seen] == ["job_started", "progress"]
    assert all(e.at > 0 for e in seen)
    assert [e.kind for e in bus.drain()] == ["job_started"]
    assert bus.drain() == []


def test_an_event_without_a_job_gets_the_bus_job_and_keeps_its_own_time() -> None:
    """A provider knows no job: the bus of the job it serves names it, so `destiler logs JOB` shows it."""
    bus = EventBus("docs")
    bus.emit(Event("script_stderr", "", "hello", at=5.0))
    bus.emit(Event("job_started", "other"))
    first, second = bus.drain()
    assert (first.job, first.at) == ("docs", 5.0)
    assert second.job == "other"


def test_a_failing_subscriber_is_dropped_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    bus = EventBus()
    calls: list[str] = []

    def broken(event: Event) -> None:
        calls.append(event.kind)
        raise RuntimeError("boom")

    bus.subscribe("broken", broken)
    bus.emit(Event("a", "j"))
    bus.emit(Event("b", "j"))
    assert calls == ["a"]
    assert "subscriber 'broken' failed and was removed: boom" in capsys.readouterr().err


def test_fingerprint_ignores_case_whitespace_and_key_order() -> None:
    a = fingerprint({"q": "What  is\tLight?", "a": ["Waves", 1]})
    b = fingerprint({"a": ["waves", 1], "q": "what is light?"})
    assert a == b
    assert a != fingerprint({"q": "what is sound?", "a": ["waves", 1]})
    assert normalise([" A ", {"k": "B  c"}, 3]) == ["a", {"k": "b c"}, 3]
    assert len(fingerprint("x")) == 32


def test_classify_error_defaults() -> None:
    assert classify_error(ProviderError("slow down", status=429), "p") == "backoff"
    assert classify_error(ProviderError("later", retry_after=2.0), "p") == "backoff"
    assert classify_error(ProviderError("flaky"), "p") == "retry"
    assert classify_error(ProviderError("bad key", retryable=False, status=401), "p") == "abort"
    assert classify_error(ProviderError("no such model", retryable=False, status=404), "p") == "failover"
    assert classify_error(RuntimeError("?"), "p") == "retry"


def test_default_hooks_are_trylast_so_plugins_win() -> None:
    from destilation import hookimpl

    class Mine:
        @hookimpl
        def fingerprint(self, sample_content: object) -> str:
            return "mine"

        @hookimpl
        def estimate_cost(self, provider: str, model: str, usage: Usage) -> float:
            return usage.total_tokens * 0.5

    pm = make_plugin_manager(load=False, extra=[Mine()])
    assert pm.hook.fingerprint(sample_content={"a": 1}) == "mine"
    assert pm.hook.estimate_cost(provider="p", model="m", usage=Usage(2, 2)) == 2.0
    assert pm.hook.classify_error(error=ProviderError("x"), provider="p") == "retry"
    assert estimate_cost("p", "m", Usage(1, 1)) == 0.0


def test_usage_adds_up() -> None:
    total = Usage(1, 2, 3) + Usage(10, 20, 30)
    assert (total.prompt_tokens, total.completion_tokens, total.reasoning_tokens, total.total_tokens) == (
        11,
        22,
        33,
        33,
    )


def test_events_are_redacted_before_any_subscriber_or_the_store_sees_them() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe("list", seen.append)
    bus.emit(Event("provider_error", "j", "HTTP 401 from https://u:pw@h/v1: Bearer abc123def", data={"api_key": "k"}))
    bus.emit(Event("progress", "j", data={"accepted": 1, "target": 2}))
    (error, progress) = seen
    assert error.message == "HTTP 401 from https://u:***@h/v1: Bearer ***"
    assert error.data == {"api_key": "***"}
    assert progress.data == {"accepted": 1, "target": 2}
    assert bus.drain() == [error]
