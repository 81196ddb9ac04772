"""The same job across hosts: `destiler worker`s in network namespaces of their own.

The test makes two namespaces, each joined to this one by a veth pair, and a relay on this
side's veth address that forwards to the PostgreSQL server, so each worker reaches the
database over its namespace's network, as a worker on another machine does. One `destiler run`
works the job here. Skipped, saying why, where the machine cannot create namespaces (not root,
no `ip`, no CAP_NET_ADMIN).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

COUNT = 240


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


class Relay(threading.Thread):
    """Forwards every TCP connection to `listen` on to `target`; counts the connections it carried."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(listen)
        self.target = target
        self.carried = 0

    def run(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:  # closed: the test is over
                return
            upstream = socket.create_connection(self.target)
            self.carried += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def namespaces() -> Iterator[list[tuple[str, str]]]:
    """Two network namespaces, each as (its name, the address of this side of its veth pair)."""
    if shutil.which("ip") is None:
        pytest.skip("no `ip` program: network namespaces cannot be made here")
    made: list[str] = []
    found: list[tuple[str, str]] = []
    tag = uuid.uuid4().hex[:6]
    try:
        for number in (1, 2):
            name, here, there = f"dst{tag}{number}", f"dh{tag}{number}", f"dn{tag}{number}"
            added = ip("netns", "add", name)
            if added.returncode != 0:
                pytest.skip(f"cannot create a network namespace here: {added.stderr.strip()}")
            made.append(name)
            host, peer = f"10.231.{number}.1", f"10.231.{number}.2"
            for step in (
                ("link", "add", here, "type", "veth", "peer", "name", there),
                ("link", "set", there, "netns", name),
                ("addr", "add", f"{host}/30", "dev", here),
                ("link", "set", here, "up"),
                ("-n", name, "addr", "add", f"{peer}/30", "dev", there),
                ("-n", name, "link", "set", there, "up"),
                ("-n", name, "link", "set", "lo", "up"),
            ):
                done = ip(*step)
                if done.returncode != 0:
                    pytest.skip(f"cannot wire a network namespace here (ip {' '.join(step)}): {done.stderr.strip()}")
            found.append((name, host))
        yield found
    finally:
        for name in made:
            ip("netns", "delete", name)  # takes its end of the veth pair, and so the pair, with it


def through(pg_url: str, host: str, port: int) -> str:
    """`pg_url` pointed at `host:port` instead of its own server."""
    parts = urlsplit(pg_url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}{host}:{port}"))


def members_of(pg_url: str, job: str) -> list[tuple[int, int]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT pid, in_flight FROM members WHERE job = :j"), {"j": job})
            return [(int(pid), int(in_flight)) for pid, in_flight in rows]
    except ProgrammingError:  # not created yet
        return []
    finally:
        engine.dispose()


def test_workers_in_other_network_namespaces_share_the_job(destiler, write_job, pg_url, namespaces) -> None:
    parts = urlsplit(pg_url)
    target = (parts.hostname or "127.0.0.1", parts.port or 5432)
    relays = [Relay((host, 0), target) for _, host in namespaces]
    for relay in relays:
        relay.start()
    name = "abroad"
    job = write_job(name, count=COUNT, provider="latency_ms = 200\nconcurrency = 2", extra="processes = 1")
    run = destiler.start("--db", pg_url, "run", str(job))
    workers: list[subprocess.Popen[str]] = []
    busy: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while not members_of(pg_url, name) and time.monotonic() < deadline:
            time.sleep(0.1)
        for (netns, host), relay in zip(namespaces, relays, strict=True):
            url = through(pg_url, host, relay.server.getsockname()[1])
            workers.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", netns, *destiler.argv("worker", "--db", url, name)],
                    cwd=destiler.workdir,
                    env=destiler.env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        pids = {w.pid for w in workers}  # `ip netns exec` runs the command in its own process
        while run.poll() is None and busy != pids and time.monotonic() < deadline + 60:
            busy |= {pid for pid, in_flight in members_of(pg_url, name) if pid in pids and in_flight}
            time.sleep(0.1)
        _, run_err = run.communicate(timeout=120)
        ended = [w.communicate(timeout=60) for w in workers]
    finally:
        for process in (run, *workers):
            if process.poll() is None:
                process.kill()
                process.communicate()
        for relay in relays:
            relay.close()
    assert run.returncode == 0, run_err
    for worker, (out, err) in zip(workers, ended, strict=True):
        assert worker.returncode == 0, err
        assert f"{name}: working" in out
    assert busy == pids, "each worker in its namespace worked tasks"
    assert all(relay.carried for relay in relays), "each reached the database through its namespace's network"
    lines = (destiler.data_dir / name / "data.jsonl").read_text(encoding="utf-8").splitlines()
    tasks = [json.loads(line)["meta"]["task"] for line in lines]
    assert len(tasks) == len(set(tasks)) == COUNT
