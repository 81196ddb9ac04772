"""The JSONL sink: a crash-safe projection of the store's accepted samples.

The exporter in the core owns the cursor: it records ``(last seq, byte offset, digest)`` in the
store only after `write` returned, so the cursor never runs ahead of the disk. The digest is a
SHA-256 of the file up to the offset, kept running as lines are appended. `open` hashes the file
up to the cursor and cuts what lies past it (a torn last line, lines written after the last
recorded cursor); when the file is missing, shorter, or its bytes do not match the digest (a line
edited or overwritten, even keeping the size), it empties the file so the exporter rebuilds it
from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from destilation import (
    Event,
    JobRecord,
    PluginContext,
    PluginError,
    Sample,
    Sink,
    SinkCursor,
    TaskState,
)
from destilation_jsonl import files
from destilation_jsonl.card import content_fields, render_card
from destilation_jsonl.config import JsonlConfig
from destilation_jsonl.encode import encode
from destilation_jsonl.metadata import build_metadata, core_version
from destilation_jsonl.scan import Tally, scan

T = TypeVar("T")

METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
WARN = "warning"
_FILENAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def _check_config(config: JsonlConfig, job: JobRecord) -> None:
    """The core validates job names; a folder name is checked here again before it touches the disk."""
    if job.name in ("", ".", "..") or any(c in job.name for c in "/\\\0"):
        raise PluginError(f"jsonl sink: job name {job.name!r} cannot be a folder name")
    if not _FILENAME.fullmatch(config.filename) or config.filename in (METADATA_FILE, CARD_FILE):
        raise PluginError(
            f"jsonl sink: filename {config.filename!r} must be a plain file name (letters, digits, '.', '_', '-'),"
            f" not starting with '.' and not {METADATA_FILE} or {CARD_FILE}"
        )
    # TOML `language = "en"` reaches us as ["e", "n"]: a string is a sequence to cattrs.
    if any(len(code) < 2 for code in config.language):
        raise PluginError(f"jsonl sink: language must be a list of codes such as ['en'], got {config.language!r}")


class JsonlSink(Sink):
    """Appends `Sample.record()` lines to ``<data_dir>/<job>/<filename>``; writes the card on finalize."""

    def __init__(self, config: JsonlConfig, context: PluginContext, job: JobRecord) -> None:
        _check_config(config, job)
        self.config = config
        self.context = context
        self.job = job
        self.folder = Path(context.data_dir) / job.name
        self.path = self.folder / config.filename
        self._dir_fd: int | None = None
        self._fd: int | None = None
        self._offset = 0
        self._kept = 0
        """Bytes that were in the file when it was opened; finalize reads only these back."""
        self._written = Tally()
        self._hash = hashlib.sha256()
        """SHA-256 of the file's first `_offset` bytes."""

    @property
    def offset(self) -> int:
        """Bytes of complete lines in the file, as far as this sink wrote or verified them."""
        return self._offset

    # --- the Sink port ------------------------------------------------------------------------

    async def open(self, cursor: SinkCursor) -> SinkCursor:
        result, note = await self._in_thread("open", self._open_sync, cursor)
        if note is not None:
            message, severity = note
            self.context.emit(
                Event(
                    "sink_repair",
                    self.job.name,
                    message,
                    severity=severity,
                    data={"sink": "jsonl", "file": self.config.filename},
                    at=time.time(),
                )
            )
        return result

    async def write(self, samples: Sequence[Sample]) -> int:
        self._require_open()
        if not samples:
            return self._offset
        return await self._in_thread("write", self._write_sync, list(samples))

    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}" if self._offset else ""

    async def finalize(self, job: JobRecord, counts: dict[TaskState, int]) -> None:
        self._require_open()
        await self._in_thread("finalize", self._finalize_sync, job, dict(counts))

    async def aclose(self) -> None:
        self._close_sync()

    # --- blocking parts, run in a worker thread -----------------------------------------------

    async def _in_thread(self, action: str, fn: Callable[..., T], *args: object) -> T:
        """Run blocking I/O off the event loop; an OS error becomes one line naming the file."""
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except OSError as exc:
            raise PluginError(f"jsonl sink: cannot {action} {self.path}: {exc.strerror or exc}") from exc

    def _require_open(self) -> None:
        if self._fd is None:
            raise PluginError(f"jsonl sink for job {self.job.name!r} is not open; call open(cursor) first")

    def _open_sync(self, cursor: SinkCursor) -> tuple[SinkCursor, tuple[str, str] | None]:
        self._close_sync()
        self._written = Tally()
        dir_fd = files.open_folder(self.folder)
        self._dir_fd = dir_fd
        fd, created = files.open_data(dir_fd, self.config.filename, self.path)
        self._fd = fd
        files.check_regular(fd, self.path)
        name = self.config.filename
        sync = self.config.fsync
        self._hash = hashlib.sha256()
        if created:
            if sync:
                os.fsync(dir_fd)  # the new directory entry survives a crash too
            self._offset = self._kept = 0
            if cursor == SinkCursor():
                return SinkCursor(), None  # a new job: nothing to say
            return SinkCursor(), (f"{name} was missing; rebuilding it from the store", WARN)

        size = files.size_of(fd)
        keep = 0
        note: tuple[str, str] | None = None
        if cursor.seq <= 0 or cursor.offset <= 0:
            if size:
                note = (f"no sample of {name} was recorded as exported; rewriting it from the store", "info")
        elif size < cursor.offset:
            note = (f"{name} is shorter than its recorded {cursor.offset} bytes; rebuilding it from the store", WARN)
        elif files.byte_at(fd, cursor.offset - 1) != b"\n":
            note = (f"{name} was replaced or edited; rebuilding it from the store", WARN)
        else:
            hashed = files.hash_prefix(fd, cursor.offset)
            # A cursor of an older release has no digest: its file is taken as it is, as before.
            if cursor.digest and f"sha256:{hashed.hexdigest()}" != cursor.digest:
                note = (
                    f"{name} did not match the store (changed before byte {cursor.offset}); "
                    "rebuilding it from the store",
                    WARN,
                )
            else:
                keep, self._hash = cursor.offset, hashed
                if size > keep:
                    note = (f"cut {size - keep} bytes past sample seq {cursor.seq} from {name}", "info")
        if size != keep:
            files.truncate(fd, keep, sync)
        self._offset = self._kept = keep
        return (SinkCursor(cursor.seq, keep, self.digest()) if keep else SinkCursor()), note

    def _write_sync(self, samples: list[Sample]) -> int:
        assert self._fd is not None  # checked by write() before the thread started
        written = Tally()
        data = encode(samples, written)
        self._offset = files.append(self._fd, data, self._offset, self.config.fsync)
        self._hash.update(data)  # only once the lines are on disk
        self._written.extend(written)
        return self._offset

    def _finalize_sync(self, job: JobRecord, counts: dict[TaskState, int]) -> None:
        assert self._fd is not None
        assert self._dir_fd is not None
        found = scan(self._fd, self._kept)
        found.extend(self._written)
        metadata = build_metadata(
            job,
            counts,
            found.result(),
            data_file=self.config.filename,
            version=core_version(),
            license=self.config.license,
            language=self.config.language,
        )
        card = render_card(metadata, content_fields(found.first))
        document = json.dumps(metadata, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
        # backslashreplace: a lone surrogate becomes a JSON escape, never an encoding crash.
        files.atomic_write(self._dir_fd, METADATA_FILE, document.encode("utf-8", "backslashreplace"), self.config.fsync)
        files.atomic_write(self._dir_fd, CARD_FILE, card.encode("utf-8", "backslashreplace"), self.config.fsync)

    def _close_sync(self) -> None:
        for fd in (self._fd, self._dir_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._dir_fd = None
