"""Blocking file operations that never follow a symlink; they run in a worker thread.

The job folder is checked with ``lstat`` and opened once as a directory descriptor. Every file
in it is opened relative to that descriptor with ``O_NOFOLLOW``, so a symlink swapped in after
the check is refused as well. Side files are replaced atomically: a temp file in the same folder,
fsynced, then ``os.replace`` (which replaces a symlink itself, never its target).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from destilation import PluginError

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC


def open_folder(folder: Path) -> int:
    """Create the job folder when needed and open it, refusing a symlink or a non-folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder)
    mode = os.lstat(folder).st_mode
    if stat.S_ISLNK(mode):
        raise PluginError(f"jsonl sink: output folder {folder} is a symlink; refusing to follow it")
    if not stat.S_ISDIR(mode):
        raise PluginError(f"jsonl sink: output folder {folder} is not a folder")
    return os.open(folder, _DIR_FLAGS)


def open_data(dir_fd: int, name: str, path: Path) -> tuple[int, bool]:
    """Open the data file for reading and writing; create it when missing. Returns (fd, created)."""
    try:
        try:
            return os.open(name, _FILE_FLAGS, dir_fd=dir_fd), False
        except FileNotFoundError:
            return os.open(name, _FILE_FLAGS | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd), True
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PluginError(f"jsonl sink: data file {path} is a symlink; refusing to follow it") from exc
        raise


def check_regular(fd: int, path: Path) -> None:
    """Refuse a FIFO, socket or device standing where the data file should be."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise PluginError(f"jsonl sink: data file {path} is not a regular file")


def size_of(fd: int) -> int:
    return os.fstat(fd).st_size


def byte_at(fd: int, position: int) -> bytes:
    return os.pread(fd, 1, position)


def hash_prefix(fd: int, end: int, chunk: int = 1 << 20) -> Hash:
    """A running SHA-256 of the first `end` bytes, read in chunks so memory stays flat."""
    hasher = hashlib.sha256()
    for position in range(0, end, chunk):
        hasher.update(os.pread(fd, min(chunk, end - position), position))
    return hasher


def truncate(fd: int, size: int, sync: bool) -> None:
    os.ftruncate(fd, size)
    if sync:
        os.fsync(fd)


def write_all(fd: int, data: bytes, offset: int) -> None:
    """``pwrite`` until every byte is written; a regular file may take a large buffer in parts."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def append(fd: int, data: bytes, offset: int, sync: bool) -> int:
    """Write `data` at `offset` durably and return the new end.

    On failure the file is cut back to `offset`, so a retry in the same session starts clean; a
    crash leaves the torn tail for the next ``open`` to cut.
    """
    try:
        write_all(fd, data, offset)
        if sync:
            os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, offset)
        raise
    return offset + len(data)


def atomic_write(dir_fd: int, name: str, data: bytes, sync: bool) -> None:
    """Replace `name` in the folder with `data` all at once: readers see the old or the new file."""
    temp = f".{name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
        try:
            write_all(fd, data, 0)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    if sync:
        os.fsync(dir_fd)
