"""Fixtures for tests that span distributions: real `destiler` subprocesses on real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


PROGRESS_LINE = re.compile(r"^\S+: \d+/\d+ accepted, ")
"""A plain progress line, which a run without a terminal writes to stderr every few seconds."""


def problem_lines(stderr: str) -> list[str]:
    """What a run said on stderr besides its progress lines: its warnings, errors and last line."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS_LINE.match(line)]


class Destiler:
    """Runs `destiler` as a real process against one data dir and one SQLite store."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
        self.env["DESTILATION_DATA_DIR"] = str(self.data_dir)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "destilation", *args]

    def __call__(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> object:
        result = self(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def lines_if_any(self, job: str) -> int:
        """How many complete lines the dataset has now (0 before it exists)."""
        path = self.data_dir / job / "data.jsonl"
        return path.read_bytes().count(b"\n") if path.exists() else 0

    def lines(self, job: str) -> list[dict[str, object]]:
        text = (self.data_dir / job / "data.jsonl").read_text(encoding="utf-8")
        assert text == "" or text.endswith("\n"), "the last line is truncated"
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def destiler(tmp_path: Path) -> Destiler:
    return Destiler(tmp_path)


@pytest.fixture
def write_job(tmp_path: Path) -> Callable[..., Path]:
    """Write a job file from the quickstart with overrides for the mock provider and the job."""

    def write(name: str = "job", count: int = 50, provider: str = "", extra: str = "", max_attempts: int = 4) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'name = "{name}"\ncount = {count}\nseed = 3\nmax_attempts = {max_attempts}\n{extra}\n'
            '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees"]\n'
            f'[providers.teacher]\nkind = "mock"\n{provider}\n'
            + ("" if "concurrency" in provider else "concurrency = 16\n"),
            encoding="utf-8",
        )
        return path

    return write


class Tmpfs:
    """A small tmpfs mounted for one test: a disk that fills up, and grows again with `resize`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, size: str) -> None:
        self.remount(f"size={size}")

    def remount(self, options: str) -> None:
        """`ro` makes the disk unwritable (root ignores file modes, not a read-only mount), `rw` undoes it."""
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True, capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Tmpfs]]:
    """`tmpfs("200k")` mounts a disk of that size under tmp_path; the test is skipped, saying why, where it cannot."""
    mounted: list[Path] = []

    def mount(size: str) -> Tmpfs:
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
            )
        except OSError as exc:  # pragma: no cover - no mount program on this machine
            pytest.skip(f"cannot mount a tmpfs here: {exc}")
        if done.returncode != 0:  # pragma: no cover - not root, or in a container without CAP_SYS_ADMIN
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or f'mount exited {done.returncode}'}")
        mounted.append(path)
        return Tmpfs(path)

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


BOOM_PLUGIN = '''
"""A third-party validator that raises an unexpected error while BOOM is set: a plugin's bug."""

import os

from destilation import hookimpl
from destilation.domain import Verdict


class Boom:
    name = "boom"

    def __init__(self, config, context):
        pass

    async def check(self, candidate, context):
        if os.environ.get("BOOM"):
            raise RuntimeError("the boom validator broke")
        return Verdict()


@hookimpl
def register_validators(register):
    register("boom", Boom)
'''


@pytest.fixture
def boom_plugin(tmp_path: Path) -> dict[str, str]:
    """Installs (on PYTHONPATH, with its entry point) a plugin whose validator raises while BOOM=1; returns the env."""
    folder = tmp_path / "site"
    info = folder / "boom_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (folder / "boom_plugin.py").write_text(BOOM_PLUGIN, encoding="utf-8")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: boom-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[destilation]\nboom = boom_plugin\n", encoding="utf-8")
    paths = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL server (through search_path), dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = os.environ.get("DESTILATION_TEST_DATABASE_URL")
    if not base:
        pytest.skip("DESTILATION_TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
