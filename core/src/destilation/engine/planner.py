"""Lazy, deterministic planning of task seeds.

Seed `i` depends only on the job spec and `i`, so a resumed or second worker plans the very same
tasks, and nothing is held in memory but a cursor.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from destilation.config import JobSpec
from destilation.domain import JSON, TaskSeed
from destilation.errors import ConfigError
from destilation.templates import Template

_COLUMN = re.compile(r"^[A-Za-z_](?:[A-Za-z0-9_ -]{0,62}[A-Za-z0-9_])?$")
"""What a CSV header's column name looks like; a data row's values seldom all do."""


def task_rng(job_seed: int, index: int) -> random.Random:
    """A random source owned by one task: the same (job seed, index) always gives the same draws."""
    digest = hashlib.blake2b(f"{job_seed}:{index}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class AxesPlanner:
    """Seeds from generation axes: the Cartesian product in order (cycled), or sampled per index."""

    def __init__(self, spec: JobSpec, source: str | None = None) -> None:
        self.seed = spec.seed
        self.sampled = spec.sampling == "sampled"
        self.names = list(spec.axes)
        self.values = [list(spec.axes[name]) for name in self.names]
        for name, values in zip(self.names, self.values, strict=True):
            if not values:
                raise ConfigError(source or f"job {spec.name}", "an axis needs at least one value", f"$.axes.{name}")

    def seed_at(self, index: int) -> TaskSeed:
        axes: dict[str, str] = {}
        if self.sampled:
            rng = task_rng(self.seed, index)
            for name, values in zip(self.names, self.values, strict=True):
                axes[name] = values[rng.randrange(len(values))]
        else:
            rest = index
            for name, values in zip(reversed(self.names), reversed(self.values), strict=True):
                rest, pick = divmod(rest, len(values))
                axes[name] = values[pick]
            axes = {name: axes[name] for name in self.names}
        return TaskSeed(index, axes)

    def seeds(self, start: int, stop: int) -> Iterator[TaskSeed]:
        for index in range(start, stop):
            yield self.seed_at(index)


class InputsPlanner:
    """Seeds from an input file of prompts, one task per row: JSON lines or CSV with a header."""

    def __init__(self, spec: JobSpec, path: str) -> None:
        self.path = Path(path)
        self.job = spec.name
        self.repeat = spec.repeat_rows
        if not self.path.is_file():
            raise ConfigError(str(self.path), "input file not found", "$.inputs")
        if self.path.suffix.lower() not in (".jsonl", ".csv"):
            raise ConfigError(str(self.path), "input files must end in .jsonl or .csv", "$.inputs")
        self._fields: tuple[int, set[str]] | None = None
        self._columns: list[str] = []
        """A CSV file's header, once read."""
        self._rows: Iterator[dict[str, JSON]] | None = None
        self._next = 0
        """The index of the row `_rows` gives next: pages planned in order read the file once."""

    def rows(self) -> Iterator[dict[str, JSON]]:
        if self.path.suffix.lower() == ".csv":
            yield from self._csv_rows()
            return
        yield from json_input_rows(self.path)

    def _csv_rows(self) -> Iterator[dict[str, JSON]]:
        """Rows under the header; a first row that cannot be a header, or a row of another width, is an error."""
        with self.path.open(encoding="utf-8-sig", newline="") as fh:  # -sig: spreadsheets start with a BOM
            reader = csv.reader(fh)
            header: list[str] | None = None
            for values in reader:
                if not values:
                    continue
                if header is None:
                    header = self._columns = self._header(values, reader.line_num)
                    continue
                if len(values) != len(header):
                    raise ConfigError(
                        f"{self.path}:{reader.line_num}",
                        f"{len(values)} values, but the header names {len(header)} columns",
                    )
                yield dict(zip(header, values, strict=True))

    def _header(self, names: list[str], line: int) -> list[str]:
        where = f"{self.path}:{line}"
        expect = "a CSV inputs file starts with a header row naming its columns"
        for number, name in enumerate(names, start=1):
            if not name.strip():
                raise ConfigError(where, f"column {number} of the header has no name; {expect}")
            if not _COLUMN.match(name):
                raise ConfigError(
                    where,
                    f"the first row is not a header: {name!r} is not a column name (letters, digits, '_', '-' and "
                    f"spaces, starting with a letter); {expect}",
                )
            if names.index(name) < number - 1:
                raise ConfigError(where, f"the header names column {name!r} twice; {expect}")
        return names

    def count(self) -> int:
        return self.fields()[0]

    def fields(self) -> tuple[int, set[str]]:
        """How many rows the file has, and every field name its rows have (the file is read once for both)."""
        if self._fields is None:
            rows, names = 0, set[str]()
            for row in self.rows():
                rows += 1
                names.update(row)
            self._fields = rows, names | set(self._columns)
        return self._fields

    def seeds(self, start: int, stop: int) -> Iterator[TaskSeed]:
        """Task `i` takes row `i`; with `repeat_rows`, row `i mod rows`, so each pass over the file
        gives its rows new indexes, hence new request seeds, and resumes plan the same tasks."""
        rows = self.count() if self.repeat else 0
        for index in range(start, stop):
            row = self._row_at(index % rows if rows else index)
            if row is None:
                return
            yield TaskSeed(index, {}, row)

    def _row_at(self, position: int) -> dict[str, JSON] | None:
        """The row at `position`; positions asked in order read the file once per pass."""
        if self._rows is None or position < self._next:
            self._rows, self._next = self.rows(), 0
        while True:  # here position >= _next
            row = next(self._rows, None)
            if row is None:
                return None
            self._next += 1
            if self._next > position:
                return row


def json_input_rows(path: Path) -> Iterator[dict[str, JSON]]:
    """The rows of a JSON-lines inputs file; a line that does not parse stops it with its line number.

    A line must hold an object (a bare string is taken as its `prompt`). `count()` reads every row
    before a job is created, so `check` and `run` both refuse a broken line before a task is planned.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}", f"invalid JSON line: {exc.msg}") from None
            if isinstance(value, str):
                value = {"prompt": value}
            if not isinstance(value, dict):
                raise ConfigError(f"{path}:{number}", f"expected a JSON object (or a string), got {_json_kind(value)}")
            yield value


def _json_kind(value: JSON) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else "a number"


Planner = AxesPlanner | InputsPlanner


def make_planner(spec: JobSpec, source: str | None = None) -> Planner:
    """The job's planner; errors in its axes name `source` (the job file), those of an inputs file name it."""
    return InputsPlanner(spec, spec.inputs) if spec.inputs else AxesPlanner(spec, source)


def check_inputs(planner: InputsPlanner, spec: JobSpec, template: Template, source: str) -> int:
    """Prove an inputs file can serve the job and return its rows; `run` and `check` both call it.

    Refused, in one line naming the file: a file with no rows; rows whose fields include none the
    template's prompt uses (a CSV whose first data row was taken for its header, say); a `count`
    above the rows, since each row makes one task and so at most one sample, unless the job sets
    `repeat_rows = true`.
    """
    rows, names = planner.fields()
    used = [name for name in dict.fromkeys(template.fields()) if name != "index"]
    if used and names and not names & set(used):
        csv_file = planner.path.suffix.lower() == ".csv"
        have = "its columns" if csv_file else "its rows' keys"
        fix = "its first row must be a header naming the columns" if csv_file else "name the keys after them"
        raise ConfigError(
            str(planner.path),
            f"{have} ({', '.join(sorted(names))}) include none of the fields the prompt of template "
            f"{template.id!r} uses ({', '.join(used)}); {fix}",
        )
    if rows == 0:
        raise ConfigError(str(planner.path), "the inputs file has no rows: each row makes one task")
    if spec.count > rows and not spec.repeat_rows:
        raise ConfigError(
            source,
            f"{spec.count} samples asked for, but {planner.path} has {rows} row{'' if rows == 1 else 's'}"
            f" and each row makes at most one sample: lower count to {rows}, add rows or set repeat_rows = true",
            "$.count",
        )
    return rows
