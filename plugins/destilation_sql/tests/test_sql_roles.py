"""Role leases: one holder per job and role, takeover after expiry, cursor writes fenced by the role."""

from __future__ import annotations

import anyio
import pytest
from sql_helpers import JOB, sql

from destilation import EXPORTER_ROLE, SinkCursor
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio

ROLE = EXPORTER_ROLE


async def test_a_free_role_is_taken_and_a_second_owner_sees_who_holds_it(store: SqlStore) -> None:
    first = await store.acquire_role(JOB, ROLE, "a", 60)
    assert first.held_by("a") and (first.job, first.role, first.fence) == (JOB, ROLE, 1)
    other = await store.acquire_role(JOB, ROLE, "b", 60)
    assert not other.held_by("b")
    assert (other.owner, other.fence, other.expires) == ("a", 1, first.expires)
    again = await store.acquire_role(JOB, ROLE, "a", 60)  # the holder asking again extends its lease
    assert again.held_by("a") and again.fence == 1 and again.expires >= first.expires
    # Roles are per job and per role name.
    assert (await store.acquire_role("other-job", ROLE, "b", 60)).held_by("b")
    assert (await store.acquire_role(JOB, "planner", "b", 60)).held_by("b")


async def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_out(store: SqlStore) -> None:
    old = await store.acquire_role(JOB, ROLE, "a", 0.05)
    assert await store.set_cursor(JOB, "jsonl", SinkCursor(1, 10, "sha256:1"), fence=old.fence)
    await anyio.sleep(0.1)
    new = await store.acquire_role(JOB, ROLE, "b", 60)
    assert new.held_by("b") and new.fence == old.fence + 1
    # The old holder cannot renew, move the cursor or release the new holder's role.
    assert not await store.renew_role(JOB, ROLE, "a", old.fence, 60)
    assert not await store.set_cursor(JOB, "jsonl", SinkCursor(9, 900, "sha256:9"), fence=old.fence)
    await store.release_role(JOB, ROLE, "a", old.fence)
    assert not (await store.acquire_role(JOB, ROLE, "a", 60)).held_by("a")
    assert await store.get_cursor(JOB, "jsonl") == SinkCursor(1, 10, "sha256:1")
    assert await store.set_cursor(JOB, "jsonl", SinkCursor(2, 20, "sha256:2"), fence=new.fence)
    assert await store.get_cursor(JOB, "jsonl") == SinkCursor(2, 20, "sha256:2")


async def test_renewing_keeps_the_role_past_its_first_lease(store: SqlStore) -> None:
    lease = await store.acquire_role(JOB, ROLE, "a", 0.2)
    for _ in range(3):
        await anyio.sleep(0.1)
        assert await store.renew_role(JOB, ROLE, "a", lease.fence, 0.2)
        assert not (await store.acquire_role(JOB, ROLE, "b", 60)).held_by("b")
    # An expired lease nobody took is still its holder's: renewing it is safe.
    await anyio.sleep(0.3)
    assert await store.renew_role(JOB, ROLE, "a", lease.fence, 60)
    assert (await store.acquire_role(JOB, ROLE, "a", 60)).fence == lease.fence


async def test_a_released_role_is_free_at_once_and_its_fence_keeps_growing(store: SqlStore) -> None:
    first = await store.acquire_role(JOB, ROLE, "a", 60)
    await store.release_role(JOB, ROLE, "a", first.fence)
    # A released holder's fence moves nothing any more, even before anyone else took the role.
    assert not await store.set_cursor(JOB, "jsonl", SinkCursor(1, 10), fence=first.fence)
    assert not await store.renew_role(JOB, ROLE, "a", first.fence, 60)
    second = await store.acquire_role(JOB, ROLE, "b", 60)
    assert second.held_by("b") and second.fence == first.fence + 1
    await store.release_role(JOB, ROLE, "b", second.fence)
    third = await store.acquire_role(JOB, ROLE, "a", 60)
    assert third.held_by("a") and third.fence == second.fence + 1


async def test_a_fenced_cursor_needs_the_role_and_an_unfenced_one_does_not(store: SqlStore) -> None:
    assert not await store.set_cursor(JOB, "jsonl", SinkCursor(1, 10), fence=1)  # nobody ever held it
    assert await store.get_cursor(JOB, "jsonl") == SinkCursor()
    lease = await store.acquire_role(JOB, ROLE, "a", 60)
    assert not await store.set_cursor(JOB, "jsonl", SinkCursor(1, 10), fence=lease.fence + 1)
    assert await store.set_cursor(JOB, "jsonl", SinkCursor(1, 10))  # tools and tests write unfenced
    # Only the exporter role fences cursors.
    planner = await store.acquire_role(JOB, "planner", "a", 60)
    assert not await store.set_cursor("other-job", "jsonl", SinkCursor(3, 30), fence=planner.fence)


async def test_many_processes_racing_for_a_role_leave_exactly_one_holder(url: str) -> None:
    stores = [SqlStore(url) for _ in range(6)]
    results: dict[str, bool] = {}
    try:
        for s in stores:
            await s.open()

        async def race(index: int, s: SqlStore) -> None:
            lease = await s.acquire_role(JOB, ROLE, f"owner-{index}", 60)
            results[f"owner-{index}"] = lease.held_by(f"owner-{index}")

        async with anyio.create_task_group() as group:
            for index, s in enumerate(stores):
                group.start_soon(race, index, s)
    finally:
        for s in stores:
            await s.aclose()
    assert sum(results.values()) == 1
    assert len(results) == len(stores)


async def test_the_sqlite_runner_lock_frees_the_roles_of_dead_runners(sqlite_url: str) -> None:
    dead = SqlStore(sqlite_url)
    await dead.open()
    await dead.lock_runner(JOB, "dead")
    await dead.acquire_role(JOB, ROLE, "dead", 600)
    await dead.aclose()  # as after kill -9: the lease still runs, but its runner is gone

    store = SqlStore(sqlite_url)
    await store.open()
    try:
        await store.lock_runner(JOB, "next")
        lease = await store.acquire_role(JOB, ROLE, "next", 60)
        assert lease.held_by("next") and lease.fence == 2
    finally:
        await store.aclose()


async def test_a_version_1_database_gains_the_roles_and_the_cursor_digest(url: str) -> None:
    # Build what the first release of schema version 1 made: no roles, cursors without digest.
    first = SqlStore(url)
    await first.open()
    sql(first, "DROP TABLE roles")
    sql(first, "DROP TABLE sink_cursors")
    sql(
        first,
        'CREATE TABLE sink_cursors (job TEXT NOT NULL, sink TEXT NOT NULL, seq BIGINT NOT NULL, "offset" BIGINT '
        "NOT NULL, PRIMARY KEY (job, sink))",
    )
    sql(first, "INSERT INTO sink_cursors VALUES (:job, 'jsonl', 4, 400)", job=JOB)
    await first.aclose()

    store = SqlStore(url)
    await store.open()
    try:
        assert await store.get_cursor(JOB, "jsonl") == SinkCursor(4, 400, "")
        lease = await store.acquire_role(JOB, ROLE, "a", 60)
        assert await store.set_cursor(JOB, "jsonl", SinkCursor(5, 500, "sha256:5"), fence=lease.fence)
        assert await store.get_cursor(JOB, "jsonl") == SinkCursor(5, 500, "sha256:5")
    finally:
        await store.aclose()
    again = SqlStore(url)  # and it opens again as it is now
    await again.open()
    try:
        assert await again.get_cursor(JOB, "jsonl") == SinkCursor(5, 500, "sha256:5")
    finally:
        await again.aclose()
