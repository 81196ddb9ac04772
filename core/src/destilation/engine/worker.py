"""A forked worker process: claim tasks, run their attempts, commit them, until told to stop.

It works like the main process's own loop, through the same store, under its own lease owner;
what keeps the output exactly-once is the store's fenced commits, as with workers on several
machines sharing PostgreSQL. It does not plan, export or decide the job's state: the main
process does, and tells it when to start and stop.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import anyio
from anyio.abc import SocketStream

from destilation.domain import JobState
from destilation.engine.assembly import (
    Prepared,
    build_loop,
    make_policies,
    open_validators,
    share,
    slots_for,
    validation_context,
)
from destilation.engine.channel import Channel
from destilation.engine.runner import JobRunner
from destilation.engine.writer import BatchWriter, Pending, accepted_in


def serve_forked(prepared: Prepared, parts: int, owner: str, sock: socket.socket) -> int:
    """A forked worker's main: wait for the word to start, then work until told to stop."""
    return anyio.run(serve, prepared, parts, owner, sock)


async def serve(prepared: Prepared, parts: int, owner: str, sock: socket.socket) -> int:
    channel = Channel(await SocketStream.from_socket(sock))
    messages = channel.messages()
    if await anext(messages, None) != "start":  # the main process ended first: a done job, or an error
        return 0
    spec, store = prepared.spec, prepared.store
    async with AsyncExitStack() as stack:
        for provider in prepared.providers:
            stack.push_async_callback(provider.aclose)
        await stack.enter_async_context(store)
        await store.open()
        record = await store.get_job(spec.name)
        assert record is not None, "the main process creates the job before it starts its workers"
        writer = BatchWriter(store, owner, on_commit=functools.partial(_report_commit, channel))
        policies = make_policies(prepared, parts)
        # The main process opened its own copies first, so a validator refusing the job stopped it there.
        await open_validators(stack, prepared.wiring.validators, validation_context(prepared, store, policies))
        runner = JobRunner(
            spec=spec,
            record=record,
            store=store,
            planner=prepared.wiring.planner,
            target=record.target,
            task_limit=spec.task_limit,
            loop=build_loop(prepared, store, writer, parts, policies),
            writer=writer,
            export=None,
            bus=prepared.bus,
            owner=owner,
            workers=share(slots_for(spec), parts),
            handle_signals=False,
            worker=True,
        )
        told = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(channel.pump)
            group.start_soon(_obey, messages, runner, told)
            outcome = await runner.run()
            if outcome.state is JobState.FAILED:  # a provider that cannot go on: the main process stops the job
                channel.post(("failed", outcome.message))
            channel.post(("stopped", None))  # all it will commit is committed: the export may end
            # Done early (the job's target reached): exit only when told, so that the main
            # process can tell a worker that finished from one that was lost.
            await told.wait()
            group.cancel_scope.cancel()
    return 0


def _report_commit(channel: Channel, batch: list[Pending]) -> None:
    """Tell the main process how many samples a commit accepted, so it sees the job's end at once."""
    accepted = len(accepted_in(batch))
    if accepted:
        channel.post(("committed", accepted))


async def _obey(messages: AsyncIterator[Any], runner: JobRunner, told: anyio.Event) -> None:
    async for _ in messages:  # "stop" is the only word after "start"
        runner.stop(JobState.PAUSED, "stopped by the main process")
        told.set()
    # The main process is gone, even by kill -9: stop at once. Whatever this worker has not
    # committed is lost exactly as the main process's own in-flight work is; resume redoes it.
    os._exit(0)
