"""Forked worker processes: their lifetime, how they end, and the main process's view of them."""

from __future__ import annotations

import os
import signal
import socket
import time

import anyio
import pytest

from destilation.engine.forking import RUNNING, START, STOP, fork_workers

pytestmark = pytest.mark.anyio


def answer(owner: str, sock: socket.socket) -> int:
    sock.sendall(owner.encode())
    return 3


def leave(owner: str, sock: socket.socket) -> int:
    return 0


def give_up(owner: str, sock: socket.socket) -> int:
    """Says it failed, the way a worker whose provider cannot go on does."""
    sock.sendall(b"api: HTTP 401, check the API key\n")
    return 0


def linger(owner: str, sock: socket.socket) -> int:
    """Closes its end first and exits a moment later, as a dying process's socket can."""
    sock.close()
    time.sleep(0.3)
    return 5


def obey(owner: str, sock: socket.socket) -> int:
    """Echoes the words it is told (start, then stop), then exits, as a worker does once stopped."""
    told = b""
    while len(told) < 2 and (word := sock.recv(1)):
        told += word
    if told and told != START + STOP:
        sock.sendall(b"told " + told)
    return 0


def hang(owner: str, sock: socket.socket) -> int:
    time.sleep(60)
    return 0


def ready_then_hang(owner: str, sock: socket.socket) -> int:
    """Says so once its signal dispositions are set (they are, before any worker main runs)."""
    sock.sendall(b"r")
    return hang(owner, sock)


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
        (linger, "worker process {pid} exited with code 5"),  # its socket closed a moment before it exited
        (give_up, "api: HTTP 401, check the API key"),  # it said why it gave up
        (crash, "worker process {pid} exited with code 70"),
    ],
)
async def test_watch_reports_a_worker_that_gives_up_or_ends_badly(main, why: str) -> None:
    (worker,) = fork_workers(1, "o", main)
    assert worker.owner == "o/w1"
    reasons: list[str] = []
    await worker.start()
    with anyio.fail_after(10):
        await worker.watch(reasons.append)
    assert reasons[0] == why.format(pid=worker.pid)
    await worker.stop()


async def test_a_worker_that_ends_with_code_0_unasked_is_no_loss() -> None:
    """Its runner saw the job end in the store (done, paused, cancelled) before the main process did."""
    (worker,) = fork_workers(1, "o", leave)
    await worker.start()
    with anyio.fail_after(10):
        await worker.watch(pytest.fail)
    await worker.stop()
    assert worker.describe_exit() == "exited with code 0"


async def test_a_worker_is_told_start_then_stop_and_stop_waits_for_its_exit() -> None:
    (worker,) = fork_workers(1, "o", obey)
    async with anyio.create_task_group() as group:
        await worker.start()
        group.start_soon(worker.watch, pytest.fail)
        with anyio.fail_after(10):
            await worker.stop()
        assert worker.describe_exit() == "exited with code 0"  # reaped by stop: it had exited


async def test_reap_before_start_closes_the_socket_which_ends_the_worker() -> None:
    (worker,) = fork_workers(1, "o", obey)
    await worker.reap()
    assert worker.describe_exit() == "exited with code 0"


async def test_stopping_a_worker_that_ignores_it_kills_it() -> None:
    (worker,) = fork_workers(1, "o", hang)
    reasons: list[str] = []
    async with anyio.create_task_group() as group:
        await worker.start()
        group.start_soon(worker.watch, reasons.append)
        await worker.stop(timeout=0.2)
    assert reasons == []  # asked to stop: not a loss
    assert worker.describe_exit() == "was killed by SIGKILL"


async def test_a_worker_that_died_before_start_is_reported_by_watch() -> None:
    (worker,) = fork_workers(1, "o", hang)
    os.kill(worker.pid, signal.SIGKILL)
    assert await worker.how_it_ended(timeout=10) == "was killed by SIGKILL"
    await worker.start()  # its socket is gone: no error here
    reasons: list[str] = []
    with anyio.fail_after(10):
        await worker.watch(reasons.append)
    assert reasons == [f"worker process {worker.pid} was killed by SIGKILL"]
    await worker.stop()


def test_the_worker_ignores_ctrl_c_and_sigterm_meant_for_the_main_process() -> None:
    (worker,) = fork_workers(1, "o", ready_then_hang)
    worker.sock.settimeout(30)
    assert worker.sock.recv(1) == b"r"  # its signal dispositions are set
    os.kill(worker.pid, signal.SIGINT)
    os.kill(worker.pid, signal.SIGTERM)
    time.sleep(0.2)
    assert worker.describe_exit() == RUNNING
    os.kill(worker.pid, signal.SIGKILL)
    assert wait_for_exit(worker) == "was killed by SIGKILL"
    worker.sock.close()
