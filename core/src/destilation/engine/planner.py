"""Lazy, deterministic planning of task seeds.

Seed `i` depends only on the job spec and `i`, so a resumed or second worker plans the very same
tasks, and nothing is held in memory but a cursor.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

from destilation.config import JobSpec
from destilation.domain import JSON, TaskSeed
from destilation.errors import ConfigError


def task_rng(job_seed: int, index: int) -> random.Random:
    """A random source owned by one task: the same (job seed, index) always gives the same draws."""
    digest = hashlib.blake2b(f"{job_seed}:{index}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class AxesPlanner:
    """Seeds from generation axes: the Cartesian product in order (cycled), or sampled per index."""

    def __init__(self, spec: JobSpec) -> None:
        self.seed = spec.seed
        self.sampled = spec.sampling == "sampled"
        self.names = list(spec.axes)
        self.values = [list(spec.axes[name]) for name in self.names]
        for name, values in zip(self.names, self.values, strict=True):
            if not values:
                raise ConfigError(f"job {spec.name}", "an axis needs at least one value", f"$.axes.{name}")

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
        if not self.path.is_file():
            raise ConfigError(str(self.path), "input file not found", "$.inputs")
        if self.path.suffix.lower() not in (".jsonl", ".csv"):
            raise ConfigError(str(self.path), "input files must end in .jsonl or .csv", "$.inputs")
        self._rows: Iterator[dict[str, JSON]] | None = None
        self._next = 0
        """The index of the row `_rows` gives next: pages planned in order read the file once."""

    def rows(self) -> Iterator[dict[str, JSON]]:
        yield from parsed_input_rows(self.path)

    def count(self) -> int:
        return sum(1 for _ in self.rows())

    def seeds(self, start: int, stop: int) -> Iterator[TaskSeed]:
        if self._rows is None or start < self._next:
            self._rows, self._next = self.rows(), 0
        while self._next < stop:
            row = next(self._rows, None)
            if row is None:
                return
            index, self._next = self._next, self._next + 1
            if index >= start:
                yield TaskSeed(index, {}, row)


def parsed_input_rows(path: Path) -> Iterator[dict[str, JSON]]:
    """The rows of an inputs file; a line that does not parse stops it with its file and line number.

    A JSON line must hold an object (a bare string is taken as its `prompt`); a CSV row must have
    as many fields as the header. `count()` reads every row before a job is created, so `check`
    and `run` both refuse a broken line before a task is planned.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            reader = csv.reader(fh)
            header = next(reader, [])
            for fields in reader:
                if not fields:
                    continue  # a blank line, skipped as csv.DictReader does
                if len(fields) != len(header):
                    raise ConfigError(
                        f"{path}:{reader.line_num}", f"this row has {len(fields)} fields, the header {len(header)}"
                    )
                yield dict(zip(header, fields, strict=True))
            return
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


def make_planner(spec: JobSpec) -> Planner:
    return InputsPlanner(spec, spec.inputs) if spec.inputs else AxesPlanner(spec)
