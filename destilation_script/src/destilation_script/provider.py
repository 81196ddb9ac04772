"""The provider: one long-lived child per process, many requests in flight, matched by id.

There is no background task: whichever request is waiting reads the child's stdout and stderr
for everyone (the "pump") until its own reply is in, then hands the pump to another waiter.
So no task outlives the calls that need it, and a request cancelled by its timeout takes
nothing with it: the buffers live on the running child, not in the read.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import time
from collections.abc import Coroutine, Mapping
from typing import Any

import anyio
import attrs

from destilation import Generation, GenerationRequest, Provider, ProviderError, ProviderInfo, Usage, redact_text
from destilation.domain import JSON
from destilation_script.child import Child, StartError, spawn
from destilation_script.config import ScriptConfig
from destilation_script.lines import LineTooLong, StderrLines, StdoutLines
from destilation_script.notices import Notices
from destilation_script.protocol import (
    PROTOCOL_VERSION,
    Hello,
    Other,
    ProtocolError,
    Reply,
    cancel_message,
    decode,
    encode,
    generate_message,
    generation,
    parent_hello,
    provider_error,
)

DEFAULT_CAPABILITIES = frozenset({"json_schema"})
"""What the provider declares before the handshake when the job declares nothing: every request
carries the template's schema, and a script is expected to answer in it."""
STDERR_LINE_BYTES = 4096
STDERR_TAIL = 5
"""stderr lines kept to explain a start-up that failed."""
CANCEL_WAIT_S = 1.0
STDERR_DRAIN_S = 1.0
"""After the child died, how long its last stderr lines may take to arrive."""


def restart_delay(failures: int, base_s: float, cap_s: float) -> float:
    """The wait before the next start after `failures` in a row: base, doubled each time, capped."""
    return float(min(cap_s, base_s * 2.0 ** min(failures - 1, 64)))  # past 2**64 the cap has long won


async def _within(scope: anyio.CancelScope, work: Coroutine[Any, Any, None]) -> None:
    with scope:
        await work


async def _set_after(seconds: float, event: anyio.Event) -> None:
    await anyio.sleep(seconds)
    event.set()


class _StartFailed(Exception):
    """One start-up went wrong (exit, garbage, silence before the handshake); another may work."""


@attrs.define(eq=False)
class _Slot:
    """One request waiting for its reply, or for its turn to pump."""

    event: anyio.Event = attrs.field(factory=anyio.Event)
    reply: Reply | None = None
    failure: ProviderError | None = None

    @property
    def done(self) -> bool:
        return self.reply is not None or self.failure is not None


@attrs.define(eq=False)
class _Running:
    """A started child and what is known of it."""

    child: Child
    stdout: StdoutLines
    stderr: StderrLines = attrs.field(factory=lambda: StderrLines(STDERR_LINE_BYTES))
    hello: Hello | None = None
    hello_seen: anyio.Event = attrs.field(factory=anyio.Event)
    pending: dict[int, _Slot] = attrs.field(factory=dict)
    pumping: bool = False
    garbage: int = 0
    timeouts: int = 0
    """Requests timed out since the last reply."""
    broken: str | None = None
    """Why the child must be restarted, found while reading; acted on by the pump."""
    dead: str | None = None
    tail: collections.deque[str] = attrs.field(factory=lambda: collections.deque(maxlen=STDERR_TAIL))


@attrs.define(eq=False)
class _ProcessState:
    """What one OS process knows: a forked worker starts its own child, never the parent's."""

    pid: int
    start_lock: anyio.Lock = attrs.field(factory=anyio.Lock)
    in_flight: anyio.Semaphore | None = None
    running: _Running | None = None
    fatal: ProviderError | None = None
    crashes: int = 0
    """Crashes since the last answer; the restart backoff doubles with each."""
    last_crash: float = 0.0
    restarts: int = 0
    """Crashes in all, for the health row."""
    ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    closed: bool = False


class ScriptProvider(Provider):
    """Drives a program over JSON lines (destilation_script/PROTOCOL.md)."""

    def __init__(self, config: ScriptConfig, info: ProviderInfo, env: Mapping[str, str], notices: Notices) -> None:
        self._config = config
        self._configured = bool(info.capabilities)
        self._info = info if info.capabilities else attrs.evolve(info, capabilities=DEFAULT_CAPABILITIES)
        self._env = dict(env)
        self._notices = notices
        self._state: _ProcessState | None = None
        self._hello: Hello | None = None

    # --- the Provider port ---------------------------------------------------------------------

    def info(self) -> ProviderInfo:
        if self._hello is None or self._configured:
            return self._info
        return attrs.evolve(self._info, capabilities=self._hello.capabilities)

    async def models(self) -> list[str]:
        running = await self._ensure(self._local())
        assert running.hello is not None
        return list(running.hello.models) or ([self._info.model] if self._info.model else [])

    def health_details(self) -> dict[str, JSON]:
        state = self._state
        running = state.running if state else None
        return {
            "pid": running.child.pid if running and not running.dead else None,
            "restarts": state.restarts if state else 0,
            "script": self._hello.name if self._hello else "",
        }

    async def probe(self, request: GenerationRequest) -> str:
        generation = await self.generate(request)
        assert self._hello is not None  # an answer means a handshake
        who = self._hello.name or self._config.argv[0]
        return f"{who} (protocol {self._hello.protocol}) answered as {generation.model}"

    async def generate(self, request: GenerationRequest) -> Generation:
        state = self._local()
        if state.in_flight is None:
            return await self._generate(state, request)
        async with state.in_flight:
            return await self._generate(state, request)

    async def aclose(self) -> None:
        state = self._state
        if state is None or state.pid != os.getpid():
            return  # nothing started here; a forked worker never stops its parent's child
        state.closed = True
        running, state.running = state.running, None
        if running is not None and running.dead is None:
            running.dead = "was shut down"
            code = await running.child.stop(self._config.shutdown_grace_s)
            self._fail_pending(running, ProviderError(f"{self._info.name}: the provider was closed", retryable=True))
            await self._finish(running)
            self._notices.say("script_stopped", f"{self._info.name}: the program stopped (exit code {code})", "info")

    # --- one request ---------------------------------------------------------------------------

    def _local(self) -> _ProcessState:
        pid = os.getpid()
        if self._state is None or self._state.pid != pid:
            limit = self._config.max_in_flight
            self._state = _ProcessState(pid, in_flight=anyio.Semaphore(limit) if limit else None)
        return self._state

    async def _generate(self, state: _ProcessState, request: GenerationRequest) -> Generation:
        name, timeout = self._info.name, self._config.timeout_s
        model = request.model or self._info.model
        running = await self._ensure(state)
        request_id = next(state.ids)
        slot = _Slot()
        running.pending[request_id] = slot
        started = time.monotonic()
        try:
            with anyio.move_on_after(timeout):
                await self._send(running, encode(generate_message(request_id, request, model)))
                await self._wait(running, slot)
        finally:
            running.pending.pop(request_id, None)
        if not slot.done:
            if running.dead is None:  # else it is being killed (crash, shutdown) as the deadline passed
                await self._timed_out(running, request_id)
            raise ProviderError(f"{name}: no answer within {timeout:g} s (timeout_s)", retryable=True)
        if slot.failure is not None:
            raise slot.failure
        assert slot.reply is not None
        if slot.reply.type == "error":
            raise provider_error(slot.reply.body, name)
        try:
            answer = generation(slot.reply.body, provider=name, model=model, latency_s=time.monotonic() - started)
        except ProtocolError as exc:
            raise ProviderError(f"{name}: malformed result: {exc}", retryable=True) from None
        state.crashes = 0
        if answer.cost is None and self._config.priced:
            answer = attrs.evolve(answer, cost=self._price(answer.usage))
        return answer

    def _price(self, usage: Usage) -> float:
        config = self._config
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        return (prompt * config.prompt_usd_per_million + completion * config.completion_usd_per_million) / 1e6

    async def _send(self, running: _Running, line: bytes) -> None:
        try:
            await running.child.send(line)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            if running.dead is None:  # else the reader found out first
                await self._crashed(running, "closed its stdin")

    async def _timed_out(self, running: _Running, request_id: int) -> None:
        """Tell the child a request timed out, so it may drop it (a late reply is ignored anyway);
        after `max_timeouts` in a row with no reply between them, the child is hung: restart it."""
        running.timeouts += 1
        if running.timeouts >= self._config.max_timeouts:
            await self._crashed(running, f"answered none of {running.timeouts} requests in a row in time (hung)")
            return
        with anyio.move_on_after(CANCEL_WAIT_S), contextlib.suppress(Exception):
            await running.child.send(encode(cancel_message(request_id)))

    async def _wait(self, running: _Running, slot: _Slot) -> None:
        """Wait for the slot's reply, pumping the child's output whenever nobody else is."""
        while not slot.done:
            if running.pumping:
                await slot.event.wait()
                if not slot.done:  # woken to take the pump over
                    slot.event = anyio.Event()
                continue
            try:
                await self._pump(running, slot.event)
            finally:
                waiting = next((s for s in running.pending.values() if not s.done and s is not slot), None)
                if waiting is not None:
                    waiting.event.set()

    # --- reading the child ---------------------------------------------------------------------

    async def _pump(self, running: _Running, until: anyio.Event, limit_s: float | None = None) -> None:
        """Read stdout and stderr until `until` is set (a reply, the child's death, or `limit_s` passed).

        Only the reading tasks are ever cancelled, each by its own scope: the waiting request is
        woken by an event, never by an exception thrown through the frames that called it.
        """
        stderr_ended = anyio.Event()
        readers = [anyio.CancelScope() for _ in range(4)]
        running.pumping = True
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_within, readers[0], self._read_stdout(running))
                group.start_soon(_within, readers[1], self._read_stderr(running, stderr_ended))
                if limit_s is not None:
                    group.start_soon(_within, readers[2], _set_after(limit_s, until))
                await until.wait()
                if running.dead is not None:  # its last words on stderr explain why: let them in
                    group.start_soon(_within, readers[3], _set_after(STDERR_DRAIN_S, stderr_ended))
                    await stderr_ended.wait()
                for scope in readers:
                    scope.cancel()
        finally:
            running.pumping = False
        if running.dead is not None:
            await running.child.close()

    async def _finish(self, running: _Running) -> None:
        """After the child died: read its last stderr lines and close its pipes, unless a pump is
        reading them, which does the same when it ends."""
        if running.pumping:
            return
        stderr_ended = anyio.Event()
        readers = [anyio.CancelScope(), anyio.CancelScope()]
        async with anyio.create_task_group() as group:
            group.start_soon(_within, readers[0], self._read_stderr(running, stderr_ended))
            group.start_soon(_within, readers[1], _set_after(STDERR_DRAIN_S, stderr_ended))
            await stderr_ended.wait()
            for scope in readers:
                scope.cancel()
        await running.child.close()

    async def _read_stdout(self, running: _Running) -> None:
        stream = running.child.process.stdout
        assert stream is not None
        while running.dead is None:
            try:
                data = await stream.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                if running.dead is None:  # else it is being shut down
                    await self._crashed(running, "exited")
                return
            try:
                lines = running.stdout.feed(data)
            except LineTooLong:
                cap = self._config.max_line_bytes
                running.broken = f"wrote a line longer than {cap} bytes (max_line_bytes)"
                lines = []
            for line in lines:
                if running.broken is None:  # what a broken child says next is not trusted
                    self._dispatch(running, line)
            if running.broken is not None:
                await self._crashed(running, running.broken)

    async def _read_stderr(self, running: _Running, ended: anyio.Event) -> None:
        stream = running.child.process.stderr
        assert stream is not None
        while True:
            try:
                data = await stream.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                lines = running.stderr.flush()
                data = b""
            else:
                lines = running.stderr.feed(data)
            for raw, truncated in lines:
                text = raw.decode("utf-8", "replace")
                running.tail.append(text)
                extra = {"truncated": True} if truncated else {}
                self._notices.line("script_stderr", f"{self._info.name}: {text}", "info", **extra)
            if not data:
                ended.set()
                return

    def _dispatch(self, running: _Running, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = decode(line)
        except ProtocolError as exc:
            running.garbage += 1
            shown = line[:200].decode("utf-8", "replace")
            self._notices.line(
                "script_garbage", f"{self._info.name}: ignored a line on stdout ({exc}): {shown}", "warning"
            )
            if running.garbage >= self._config.max_garbage_lines:
                running.broken = f"wrote {running.garbage} lines in a row that are not protocol messages"
            return
        running.garbage = 0
        if isinstance(message, Hello):
            if running.hello is None:
                running.hello = message
                running.hello_seen.set()
        elif isinstance(message, Reply):
            running.timeouts = 0
            slot = running.pending.get(message.id)
            if slot is not None and not slot.done:  # else a reply to a request that timed out
                slot.reply = message
                slot.event.set()
        else:
            assert isinstance(message, Other)  # a newer child's message: ignored

    async def _crashed(self, running: _Running, reason: str) -> None:
        """The child is gone or broken: kill its group and fail what it held, retryably (once per child)."""
        running.dead = reason
        code = await running.child.kill()
        running.dead = f"{reason} (exit code {code})"
        state = self._state
        if state is not None and state.running is running:
            state.running = None
            state.crashes += 1
            state.restarts += 1
            state.last_crash = time.monotonic()
        detail = f"the program {running.dead}"
        if running.hello is not None:
            self._notices.say("script_crashed", f"{self._info.name}: {detail}; it will be restarted")
        self._fail_pending(running, ProviderError(f"{self._info.name}: {detail}", retryable=True))
        await self._finish(running)

    def _fail_pending(self, running: _Running, error: ProviderError) -> None:
        for slot in running.pending.values():
            if not slot.done:
                slot.failure = error
                slot.event.set()
        running.hello_seen.set()

    # --- starting the child --------------------------------------------------------------------

    async def _ensure(self, state: _ProcessState) -> _Running:
        """The running child, started (after the restart backoff) and past its handshake."""
        async with state.start_lock:
            if state.fatal is not None:
                raise state.fatal
            if state.closed:
                raise ProviderError(f"{self._info.name}: the provider was closed", retryable=False)
            if state.running is not None:
                return state.running
            if state.crashes:
                backoff = self._backoff(state.crashes)
                await anyio.sleep(max(0.0, state.last_crash + backoff - time.monotonic()))
            failures = 0
            while True:
                try:
                    state.running = await self._start()
                    return state.running
                except _StartFailed as exc:
                    failures += 1
                    if failures >= self._config.max_start_failures:
                        state.fatal = ProviderError(
                            f"{self._info.name}: the program failed to start {failures} times in a row: {exc}",
                            retryable=False,
                            fatal=True,
                        )
                        raise state.fatal from None
                    self._notices.say("script_start_failed", f"{self._info.name}: {exc}; trying again")
                    await anyio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        return restart_delay(failures, self._config.restart_backoff_s, self._config.max_restart_backoff_s)

    async def _start(self) -> _Running:
        name, config = self._info.name, self._config
        try:
            child = await spawn(config.argv, config.cwd, self._env)
        except StartError as exc:
            raise self._give_up(f"{name}: {exc}") from None
        running = _Running(child, StdoutLines(config.max_line_bytes))
        await self._send(running, encode(parent_hello(name, self._info.model)))
        await self._pump(running, running.hello_seen, config.startup_timeout_s)
        hello = running.hello
        if hello is None or running.dead is not None:
            if running.dead is None:
                running.dead = f"sent no hello within {config.startup_timeout_s:g} s (startup_timeout_s)"
                await child.kill()
                await child.close()
            tail = f"; stderr: {redact_text(running.tail[-1])}" if running.tail else ""
            raise _StartFailed(f"the program {running.dead} before the handshake{tail}")
        if hello.protocol != PROTOCOL_VERSION:
            running.dead = "speaks another protocol"
            await child.kill()
            await child.close()
            raise self._give_up(
                f"{name}: the program speaks protocol {hello.protocol}; this provider speaks {PROTOCOL_VERSION}"
            )
        self._hello = hello
        self._notices.say(
            "script_started",
            f"{name}: started {hello.name or config.argv[0]} (pid {child.pid})",
            "info",
            pid=child.pid,
            models=list(hello.models),
        )
        return running

    def _give_up(self, message: str) -> ProviderError:
        state = self._local()
        state.fatal = ProviderError(message, retryable=False, fatal=True)
        return state.fatal
