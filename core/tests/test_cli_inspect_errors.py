"""`destiler inspect` on attempts that recorded a provider error, as runs before the call policy did."""

from __future__ import annotations

import anyio
from click.testing import CliRunner

from destilation import Attempt, Issue, Retry, TaskSeed
from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation.testing import TestingKit


def test_an_attempt_that_recorded_a_provider_error_shows_it() -> None:
    kit = TestingKit()
    store = kit.store("memory://")

    async def fill() -> None:
        await store.create_job("job", {}, 1)
        await store.add_tasks("job", [TaskSeed(0, {"topic": "tides"})])
        (task,) = await store.claim("job", "me", 1, 30.0)
        issue = Issue("provider_error", "HTTP 500", hint="the provider failed")
        failed = Attempt(1, "teacher", "m", ok=False, issues=(issue,), error="ProviderError: HTTP 500")
        await store.commit("me", [Retry(task, failed)])

    anyio.run(fill)
    result = CliRunner().invoke(
        make_cli(make_plugin_manager(load=False, extra=[kit])), ["--db", "memory://", "inspect", "job/0"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "  attempt 1 on teacher/m: failed, 0.00s, 0+0 tokens\n    - error: ProviderError: HTTP 500\n" in result.output
    )
