"""Attempt payloads and sample lineage in the SQL store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sql_helpers import JOB, sql

from destilation import Accept, Attempt, AttemptPayload, Message, Sample, TaskSeed
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def test_a_version_1_database_gains_attempt_payloads_and_sample_lineage(url: str) -> None:
    # Build what releases before lineage made: attempts without payload, samples without lineage.
    first = SqlStore(url)
    await first.open()
    await first.create_job(JOB, {}, 2)
    await first.add_tasks(JOB, [TaskSeed(0, {"topic": "tides"}), TaskSeed(1, {"topic": "bees"})])
    old, new = await first.claim(JOB, "w", 2, 60)
    kept = AttemptPayload((Message("user", "write"),), "not json")
    stored = Sample(JOB, 0, {"a": 1}, "h0", "t", "1", "p", "m", 1, mode="simple", seed=old.seed)
    await first.commit("w", [Accept(old, Attempt(1, "p", "m", True, payload=kept), stored)])
    sql(first, "ALTER TABLE attempts DROP COLUMN payload")
    sql(first, "ALTER TABLE samples DROP COLUMN lineage")
    await first.aclose()

    store = SqlStore(url)
    await store.open()
    try:
        before = await store.get_task(JOB, 0)
        assert before is not None and before.sample is not None
        assert before.attempts[0].payload is None and before.sample.mode is None and before.sample.seed is None
        fresh = Sample(JOB, 1, {"a": 2}, "h1", "t", "1", "p", "m", 1, mode="simple", seed=new.seed)
        await store.commit("w", [Accept(new, Attempt(1, "p", "m", True, payload=kept), fresh)])
        after = await store.get_task(JOB, 1)
        assert after is not None and after.attempts[0].payload == kept
        assert after.sample is not None and after.sample.seed == new.seed and after.sample.mode == "simple"
    finally:
        await store.aclose()
