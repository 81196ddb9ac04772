"""`destiler show`'s providers and cost, and `destiler logs`, in process on the testing kit's memory store."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import pytest
from click.testing import CliRunner, Result

from destilation import Event, LoggedEvent, StateStore
from destilation.cli import logs
from destilation.cli.main import make_cli
from destilation.interfaces import AttemptTotals
from destilation.plugins import make_plugin_manager
from destilation.testing import MemoryStore, TestingKit
from destilation.testing.store_contract import health

URL = "memory://"
Invoke = Callable[..., Result]


class PlainStore(MemoryStore):
    """A third party's store: no health rows, no event ids, no attempt totals (the port's defaults)."""

    record_health = StateStore.record_health
    provider_health = StateStore.provider_health
    query_events = StateStore.query_events  # type: ignore[assignment]


class TotalsStore(PlainStore):
    async def attempt_totals(self, job: str) -> AttemptTotals:
        return AttemptTotals(attempts=4, provider_errors=1, cost=0.5)


@pytest.fixture
def kit() -> TestingKit:
    return TestingKit()


@pytest.fixture
def cli(kit: TestingKit) -> Invoke:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(make_cli(make_plugin_manager(load=False, extra=[kit])), ["--db", URL, *args])

    return invoke


def fill(store: MemoryStore, *, rows: bool = True) -> None:
    async def main() -> None:
        await store.create_job("job", {}, 2)
        if rows:
            await store.record_health(
                [
                    health("job", "openrouter", "w1", last_error="HTTP 429 from upstream"),
                    health("job", "openrouter", "w2", requests=5, cost=0.75, updated_at=999.0),
                    health("job", "ollama", "w1", model="llama3", errors={}, cost=0.0, details={}),
                ]
            )
        await store.add_events(
            [
                Event("job_started", "job", "target 2 samples", at=1.0),
                Event(
                    "provider_error",
                    "job",
                    "HTTP 500\nretrying",
                    "warning",
                    provider="openrouter",
                    task_index=3,
                    at=2.0,
                ),
                Event("job_failed", "job", "gave up", "error", at=3.0),
                Event("provider_error", "other", "not this job", "error", provider="openrouter", at=4.0),
            ]
        )

    anyio.run(main)


def test_show_prints_each_providers_merged_health_and_the_cost(cli: Invoke, kit: TestingKit) -> None:
    fill(kit.store(URL))
    shown = cli("show", "job")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    at = lines.index("   providers:")
    assert lines[at + 1].startswith("              ollama (llama3): 10 requests; 8 ok; no errors;")
    assert lines[at + 2].startswith(
        "              openrouter (m): 15 requests; 16 ok; errors rate_limited 2, server 2;"
    )
    assert "concurrency 8 (4 in flight)" in lines[at + 2] and "structured_output: json_object" in lines[at + 2]
    assert lines[at + 3] == "                last error: HTTP 429 from upstream"
    assert lines[at + 4] == "        cost: $1.0000 (ollama $0.0000, openrouter $1.0000)"


def test_show_json_carries_every_provider_field_and_the_cost(cli: Invoke, kit: TestingKit) -> None:
    fill(kit.store(URL))
    data = json.loads(cli("show", "job", "--json").output)
    assert [p["provider"] for p in data["providers"]] == ["ollama", "openrouter"]
    openrouter = data["providers"][1]
    assert (openrouter["owner"], openrouter["requests"], openrouter["circuit"]) == ("w1, w2", 15, "closed")
    assert openrouter["details"] == {"structured_output": "json_object"}
    assert data["cost"] == {"total": 1.0, "by_provider": {"ollama": 0.0, "openrouter": 1.0}, "source": "providers"}


def test_show_without_provider_data_falls_back_to_attempt_totals(cli: Invoke, kit: TestingKit) -> None:
    kit.stores[URL] = TotalsStore(URL)
    fill(kit.stores[URL])
    shown = cli("show", "job").output
    assert "   providers: no provider data\n        cost: $0.5000 (from attempts: no provider data)\n" in shown
    data = json.loads(cli("show", "job", "--json").output)
    assert (data["providers"], data["cost"]) == ([], {"total": 0.5, "by_provider": {}, "source": "attempts"})
    kit.stores[URL] = PlainStore(URL)
    fill(kit.stores[URL])
    assert "        cost: unknown (the store keeps no provider data or attempt totals)\n" in cli("show", "job").output


def test_logs_prints_a_jobs_events_oldest_first_on_one_line_each(cli: Invoke, kit: TestingKit) -> None:
    fill(kit.store(URL))
    result = cli("logs", "job")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "1970-01-01T00:00:01Z info    job_started: target 2 samples",
        "1970-01-01T00:00:02Z warning provider_error openrouter task 3: HTTP 500 retrying",
        "1970-01-01T00:00:03Z error   job_failed: gave up",
    ]
    assert cli("logs", "job", "--level", "WARNING").output.count("\n") == 2
    assert cli("logs", "job", "--level", "error").output.splitlines() == [
        "1970-01-01T00:00:03Z error   job_failed: gave up"
    ]
    assert cli("logs", "job", "--provider", "openrouter").output.count("\n") == 1
    assert cli("logs", "job", "--limit", "1").output.splitlines() == [
        "1970-01-01T00:00:03Z error   job_failed: gave up"
    ]
    quiet = cli("logs", "job", "--provider", "nobody")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "no events in job that match\n")


def test_logs_json_is_one_object_per_line(cli: Invoke, kit: TestingKit) -> None:
    fill(kit.store(URL))
    lines = [json.loads(line) for line in cli("logs", "job", "--json").stdout.splitlines()]
    assert [e["kind"] for e in lines] == ["job_started", "provider_error", "job_failed"]
    assert lines[1] == {
        "id": 2,
        "time": "1970-01-01T00:00:02Z",
        "at": 2.0,
        "job": "job",
        "severity": "warning",
        "kind": "provider_error",
        "provider": "openrouter",
        "task_index": 3,
        "message": "HTTP 500\nretrying",
        "data": {},
    }


def test_logs_of_a_missing_job_or_with_a_bad_level_is_one_line_and_exit_2(cli: Invoke, kit: TestingKit) -> None:
    fill(kit.store(URL))
    missing = cli("logs", "nope")
    assert (missing.exit_code, missing.stderr) == (2, "error: no job named 'nope' in memory://\n")
    bad = cli("logs", "job", "--level", "loud")
    assert bad.exit_code == 2 and len(bad.stderr.splitlines()) == 1 and "'loud' is not one of" in bad.stderr
    empty = kit.store(URL)
    anyio.run(empty.create_job, "fresh", {}, 1)
    assert cli("logs", "fresh").stderr == "no events in fresh\n"


def test_follow_prints_new_events_until_ctrl_c_and_exits_0(
    cli: Invoke, kit: TestingKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = kit.store(URL)
    fill(store)
    polls: list[float] = []
    late: list[LoggedEvent] = []

    async def poll(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:  # while the first poll waits, the job goes on
            await store.add_events(
                [
                    Event("provider_error", "job", "late", "warning", provider="ollama", at=5.0),
                    Event("noise", "job", at=6.0),
                    Event("provider_error", "job", "slow", "warning", provider="ollama", at=7.0),
                ]
            )
            # The first of them drew its id first but commits after the others (PostgreSQL can).
            late.append(store.logged.pop(-3))
        elif len(polls) == 2:
            store.logged.append(late[0])
        elif len(polls) == 4:
            raise KeyboardInterrupt  # Ctrl-C

    monkeypatch.setattr(logs, "sleep", poll)
    result = cli("logs", "job", "--follow", "--level", "warning", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "1970-01-01T00:00:03Z error   job_failed: gave up",
        "1970-01-01T00:00:07Z warning provider_error ollama: slow",
        "1970-01-01T00:00:05Z warning provider_error ollama: late",
    ]
    assert polls == [logs.POLL_S] * 4 and result.stderr == ""


def test_a_store_without_event_ids_still_lists_but_cannot_follow(cli: Invoke, kit: TestingKit) -> None:
    kit.stores[URL] = PlainStore(URL)
    fill(kit.stores[URL])
    listed = cli("logs", "job", "--level", "warning", "--json")
    assert [(e["id"], e["kind"]) for e in map(json.loads, listed.stdout.splitlines())] == [
        (None, "provider_error"),
        (None, "job_failed"),
    ]
    assert cli("logs", "job", "--provider", "openrouter").output.count("\n") == 1
    refused = cli("logs", "job", "--follow")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "error: memory:// keeps no event ids: --follow cannot tell new events\n",
    )


def test_ctrl_c_during_a_plain_listing_is_not_a_clean_exit(
    cli: Invoke, kit: TestingKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = kit.store(URL)
    fill(store)

    async def interrupted(job: str, **filters: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "query_events", interrupted)
    result = cli("logs", "job")
    assert result.exit_code == 1 and "Aborted!" in result.stderr
