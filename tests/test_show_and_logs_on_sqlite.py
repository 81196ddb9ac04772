"""`destiler show`'s providers and `destiler logs --follow` on a real SQLite store, the latter as a real process."""

from __future__ import annotations

import json
import queue
import signal
import threading
from pathlib import Path

import anyio
from click.testing import CliRunner

from destilation import Circuit, Event
from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation.testing.store_contract import health
from destilation_sql.store import SqlStore


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'destilation.db'}"


async def fill(url: str) -> None:
    async with SqlStore(url) as store:
        await store.open()
        await store.create_job("job", {"name": "job"}, 10)
        key = "sk-or-v1-0123456789abcdef0123"
        await store.record_health(
            [
                health("job", "openrouter", "w1", circuit=Circuit.OPEN, last_error=f"401: bad key Bearer {key}"),
                health("job", "openrouter", "w2", cost=0.5),
            ]
        )
        await store.add_events([Event("job_started", "job", "target 10 samples", at=1.0)])


async def add_event(url: str, event: Event) -> None:
    async with SqlStore(url) as store:
        await store.open()
        await store.add_events([event])


def test_show_merges_the_processes_rows_of_a_provider_and_redacts_its_error(tmp_path: Path) -> None:
    anyio.run(fill, store_url(tmp_path))
    cli = make_cli(make_plugin_manager())
    data = json.loads(CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "show", "job", "--json"]).output)
    (openrouter,) = data["providers"]
    assert (openrouter["owner"], openrouter["requests"], openrouter["circuit"]) == ("w1, w2", 20, "open")
    assert openrouter["last_error"].startswith("401: bad key Bearer ") and "sk-or" not in openrouter["last_error"]
    assert data["cost"] == {"total": 0.75, "by_provider": {"openrouter": 0.75}, "source": "providers"}
    text = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "show", "job"]).output
    assert "              openrouter (m): 20 requests; 16 ok;" in text and "circuit open;" in text
    assert "        cost: $0.7500 (openrouter $0.7500)\n" in text and "sk-or" not in text


def test_logs_follow_prints_new_events_and_ctrl_c_exits_0(destiler) -> None:  # type: ignore[no-untyped-def]
    url = store_url(destiler.data_dir)
    anyio.run(fill, url)
    process = destiler.start("logs", "job", "--follow", "--json")
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        assert json.loads(lines.get(timeout=60))["kind"] == "job_started"
        anyio.run(add_event, url, Event("provider_error", "job", "HTTP 503", "warning", provider="openrouter"))
        later = json.loads(lines.get(timeout=60))
        assert (later["kind"], later["provider"], later["id"]) == ("provider_error", "openrouter", 2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None and process.stderr.read() == ""
