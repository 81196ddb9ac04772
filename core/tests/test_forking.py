"""Forked worker processes: their lifetime, how they end, and the main process's view of them."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import struct
import time

import anyio
import pytest
from anyio.abc import SocketStream

from destilation.engine.channel import Channel
from destilation.engine.forking import RUNNING, fork_workers
from destilation.engine.lanes import WorkerLane

pytestmark = pytest.mark.anyio


def answer(owner: str, sock: socket.socket) -> int:
    sock.sendall(owner.encode())
    return 3


def leave(owner: str, sock: socket.socket) -> int:
    return 0


def give_up(owner: str, sock: socket.socket) -> int:
    """Says it failed, the way a worker whose provider cannot go on does."""
    data = pickle.dumps([("failed", "api: HTTP 401, check the API key")])
    sock.sendall(struct.pack("!I", len(data)) + data)
    return 0


def linger(owner: str, sock: socket.socket) -> int:
    """Closes its end first and exits a moment later, as a dying process's socket can."""
    sock.close()
    time.sleep(0.3)
    return 5


def report_then_stop(owner: str, sock: socket.socket) -> int:
    """Reports two commits and that it stopped, then lives until its socket closes, as a worker does."""
    data = pickle.dumps([("committed", 3), ("committed", 2), ("stopped", None)])
    sock.sendall(struct.pack("!I", len(data)) + data)
    while sock.recv(4096):
        pass
    return 4


def hang(owner: str, sock: socket.socket) -> int:
    time.sleep(60)
    return 0


def crash(owner: str, sock: socket.socket) -> int:
    raise RuntimeError("boom in the worker")


def wait_for_exit(worker) -> str:
    deadline = time.monotonic() + 10
    while (how := worker.describe_exit()) == RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)
    return how


def test_each_worker_runs_main_with_its_own_owner_and_exits_with_its_code() -> None:
    workers = fork_workers(2, "host:1:abc", answer)
    assert [w.owner for w in workers] == ["host:1:abc/w1", "host:1:abc/w2"]
    for worker in workers:
        assert worker.sock.recv(100) == worker.owner.encode()
        assert wait_for_exit(worker) == "exited with code 3"
        assert worker.describe_exit() == "exited with code 3"  # remembered once reaped
        worker.sock.close()


def test_a_worker_that_raises_exits_with_70_and_prints_its_traceback(capfd) -> None:
    (worker,) = fork_workers(1, "o", crash)
    assert wait_for_exit(worker) == "exited with code 70"
    assert "RuntimeError: boom in the worker" in capfd.readouterr().err
    worker.sock.close()


def test_fork_workers_of_none_forks_nothing() -> None:
    assert fork_workers(0, "o", answer) == []


async def test_reap_kills_a_worker_that_does_not_exit() -> None:
    (worker,) = fork_workers(1, "o", hang)
    assert worker.describe_exit() == RUNNING
    await worker.reap(timeout=0.1)
    assert worker.describe_exit() == "was killed by SIGKILL"
    worker.sock.close()


@pytest.mark.parametrize(
    ("main", "why"),
    [
        (leave, "worker process {pid} exited with code 0"),  # it ended without being asked to
        (linger, "worker process {pid} exited with code 5"),  # its socket closed a moment before it exited
        (give_up, "api: HTTP 401, check the API key"),  # it said why it gave up
    ],
)
async def test_a_lane_reports_a_worker_that_ends_or_gives_up_unasked(main, why: str) -> None:
    (worker,) = fork_workers(1, "o", main)
    lane = WorkerLane(worker, Channel(await SocketStream.from_socket(worker.sock)))
    assert lane.owner == "o/w1"
    reasons: list[str] = []
    with anyio.fail_after(10):
        await lane.serve(reasons.append, pytest.fail)
    assert reasons[0] == why.format(pid=worker.pid)
    await lane.stop()


async def test_stopping_a_lane_whose_worker_ignores_it_kills_the_worker() -> None:
    (worker,) = fork_workers(1, "o", hang)
    lane = WorkerLane(worker, Channel(await SocketStream.from_socket(worker.sock)))
    reasons: list[str] = []
    async with anyio.create_task_group() as group:
        group.start_soon(lane.serve, reasons.append, pytest.fail)
        lane.start()
        await lane.stop(timeout=0.2)
    assert reasons == []  # asked to stop: not a loss
    assert worker.describe_exit() == "was killed by SIGKILL"


async def test_a_lane_passes_on_commits_and_stops_waiting_once_its_worker_has_stopped() -> None:
    (worker,) = fork_workers(1, "o", report_then_stop)
    lane = WorkerLane(worker, Channel(await SocketStream.from_socket(worker.sock)))
    reasons: list[str] = []
    committed: list[int] = []
    async with anyio.create_task_group() as group:
        group.start_soon(lane.serve, reasons.append, committed.append)
        lane.start()
        with anyio.fail_after(10):
            await lane.stop()  # returns on "stopped": the worker has not exited yet
        assert committed == [3, 2]
        # Its socket is closed now, so it exits; the run collects it last.
        assert await worker.how_it_ended(timeout=10) == "exited with code 4"
    assert reasons == []


def ignores(pid: int, *signums: int) -> bool:
    """Whether the process ignores all of `signums` now (Linux's /proc; elsewhere: after a pause)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            mask = int(next(line for line in fh if line.startswith("SigIgn:")).split()[1], 16)
    except OSError:  # pragma: no cover - no /proc on this system
        time.sleep(0.2)
        return True
    return all(mask >> (n - 1) & 1 for n in signums)


def test_the_worker_ignores_ctrl_c_and_sigterm_meant_for_the_main_process() -> None:
    (worker,) = fork_workers(1, "o", hang)
    # A loaded machine (or coverage starting in the child) may take a while to get there.
    deadline = time.monotonic() + 10
    while not ignores(worker.pid, signal.SIGINT, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGINT)
    os.kill(worker.pid, signal.SIGTERM)
    time.sleep(0.2)
    assert worker.describe_exit() == RUNNING
    os.kill(worker.pid, signal.SIGKILL)
    assert wait_for_exit(worker) == "was killed by SIGKILL"
    worker.sock.close()
