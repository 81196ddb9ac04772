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
        with self.path.open(encoding="utf-8", newline="") as fh:
            if self.path.suffix.lower() == ".csv":
                yield from csv.DictReader(fh)
                return
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{self.path}:{number}", f"invalid JSON line: {exc.msg}") from None
                if not isinstance(row, dict):
                    row = {"prompt": row}
                yield row

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


Planner = AxesPlanner | InputsPlanner


def make_planner(spec: JobSpec) -> Planner:
    return InputsPlanner(spec, spec.inputs) if spec.inputs else AxesPlanner(spec)
