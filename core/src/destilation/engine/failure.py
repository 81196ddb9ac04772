"""When a run breaks: one line that says why, and a job state that stays true.

A run that stops on an error (a sink that cannot write, a full disk, a store that refuses
writes, a bug in a plugin) must not leave its job `running` with nothing running it: the job is
marked `failed` with that line, its leases go back, and `destiler resume` continues once the
cause is fixed. When the store itself cannot record this, the line says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from destilation.domain import JobState
from destilation.errors import DestilationError
from destilation.interfaces import StateStore


def first_cause(exc: BaseException) -> BaseException:
    """The first error inside (nested) exception groups: the one that ended the task group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_failure(exc: BaseException) -> str:
    """One line for the user: an error meant for them as it is, an OS error with its file, a bug by its type."""
    cause = first_cause(exc)
    if isinstance(cause, DestilationError):
        text = str(cause)
    elif isinstance(cause, OSError):
        where = f"{cause.filename}: " if cause.filename else ""
        text = f"{where}{cause.strerror or cause}"
    else:
        text = f"unexpected {type(cause).__name__}: {cause} (a bug in destilation or one of its plugins)"
    return " ".join(text.split())


async def record_failure(store: StateStore, job: str, owners: Iterable[str], reason: str, *, mark: bool) -> str:
    """Give back the owners' leases and, if `mark`, mark the job failed with `reason`; return the line to show.

    If the store cannot mark it (a full disk under SQLite, a lost server), the line says so and the
    job keeps its last recorded state. Leases it cannot give back are taken back by the next
    runner or expire, so resume works either way.
    """
    for owner in owners:
        with contextlib.suppress(Exception):
            await store.release_all(job, owner)
    if not mark:
        return reason
    try:
        await store.set_job_state(job, JobState.FAILED, reason)
    except Exception as exc:  # whatever the store raises, the line must still reach the user
        why = describe_failure(exc)
        also = "either" if why == reason else f"({why})"
        return (
            f"{reason}; the store could not record the failure {also}, so it may still show the job as running: "
            f"`destiler resume {job}` continues once the cause is fixed"
        )
    return reason
