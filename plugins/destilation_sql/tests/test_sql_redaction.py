"""Free text that may quote a server or a URL is redacted on its way into the store."""

from __future__ import annotations

import pytest
from sql_helpers import JOB, retry, seeds, sql

from destilation import JobState
from destilation_sql.store import SqlStore
from destilation_sql.urls import parse

pytestmark = pytest.mark.anyio

PASSWORD = "hunter2-in-a-message"


async def test_job_messages_and_attempt_errors_lose_their_credentials(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 1)
    await store.add_tasks(JOB, seeds(1))
    (task,) = await store.claim(JOB, "w1", 1, 60)
    await store.commit("w1", [retry(task, 1, error="HTTP 401: Authorization: Bearer abcdef123456 was refused")])
    await store.set_job_state(JOB, JobState.FAILED, f"cannot reach postgresql://u:{PASSWORD}@h/db?password={PASSWORD}")

    job = await store.get_job(JOB)
    assert job is not None and job.message == "cannot reach postgresql://u:***@h/db?password=***"
    (stats,) = await store.provider_stats(JOB)
    assert stats["last_error"] == "HTTP 401: Authorization: Bearer *** was refused"
    rows = repr(sql(store, "SELECT * FROM attempts")) + repr(sql(store, "SELECT * FROM jobs"))
    assert PASSWORD not in rows and "abcdef123456" not in rows
    await store.set_job_state(JOB, JobState.PAUSED, "")
    paused = await store.get_job(JOB)
    assert paused is not None and paused.message == ""


def test_a_store_url_is_shown_without_its_password_or_secret_query_values() -> None:
    target = parse(f"postgresql://u:{PASSWORD}@h/db?password={PASSWORD}&sslmode=require&key=a&key=b")
    assert target.shown == "postgresql://u:***@h/db?password=***&sslmode=require&key=***&key=***"
    assert sorted(target.secrets) == sorted([PASSWORD, PASSWORD, "a", "b"])
    assert parse("sqlite:///x.db").secrets == []
