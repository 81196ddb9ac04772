"""The runner lock of a SQLite file: one destiler run per database file at a time.

An exclusive ``flock`` on ``<db>.lock``, held for the store's lifetime. The kernel drops it
when the process dies, even by kill -9, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from destilation import StoreError


class RunnerLock:
    """Holds the lock file open while locked; `release` closes it."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise StoreError naming the pid that holds it."""
        holder = self.try_acquire()
        if holder is not None:
            raise StoreError(
                f"{self.db_path} is in use by another destiler run (pid {holder}); "
                "wait for it to finish or pause it, then try again"
            )

    def try_acquire(self) -> str | None:
        """Take the lock if it is free (or held here already): None; else the holder's pid, as read."""
        if self._fd is not None:
            return None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"{self.db_path}: cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            return holder
        # The pid is only for the message a second runner gets; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"
