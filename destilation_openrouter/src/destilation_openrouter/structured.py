"""Structured output that adapts to the server: find once which way of sending a schema it takes.

Servers differ: OpenRouter, OpenAI, vLLM and llama.cpp's server take a strict `json_schema`
response format; llama-cpp-python answers HTTP 500 to it but takes `json_object` with a schema;
some take neither, and the schema must be stated in the prompt. In `auto` mode the provider
tries them in that order on its first schema requests, keeps the first that works for the rest
of the job and says so once. A refusal is handled here, by resending the same request in the
next mode, so it never costs a task's attempt and never reaches the model as feedback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from destilation import Generation, GenerationRequest, ProviderError

MODES = ("json_schema", "json_object", "prompt")
"""The modes `auto` tries, in order; `prompt` always works (the answer is validated as always)."""
NOT_REFUSALS = frozenset({401, 402, 403, 408, 413, 429, 502, 503, 504, 524, 529})
"""Statuses that speak of the key, the size or the load, never of the response format."""
_NAMES = ("response_format", "json_schema", "json_object", "structured output")

Send = Callable[[GenerationRequest, str], Awaitable[Generation]]
"""Sends one request with the schema in the given mode."""
Settled = Callable[[str, list[str]], None]
"""Told once which mode `auto` settled on, and why the modes before it were dropped."""


def could_be_refusal(error: ProviderError) -> bool:
    """An HTTP error that may mean "I do not take this response format" (a 4xx or 5xx of the right kind)."""
    return error.status is not None and 400 <= error.status <= 599 and error.status not in NOT_REFUSALS


def names_the_format(error: ProviderError) -> bool:
    """The error text itself says the response format is the problem; no need to verify."""
    text = str(error).lower()
    return any(name in text for name in _NAMES)


class StructuredOutput:
    """The mode of one provider object, shared by all its concurrent requests.

    While `auto` has not settled, one schema request runs the discovery. Concurrent ones do not
    run their own: until a mode was refused they follow in the first mode (a server that takes
    it, the common case, costs no wait at all); after a refusal, or when theirs looks like one,
    they wait for the discovery (all woken at once) and send in the mode it settled on. If it
    ends unsettled (a fault of the moment), the next request to wake takes over.
    """

    def __init__(self, configured: str, settled: Settled) -> None:
        self.configured = configured
        self.mode: str | None = None if configured == "auto" else configured
        self.refused: list[str] = []
        """One line per mode `auto` dropped: the mode and the server's error."""
        self._next = 0
        self._settled = settled
        self._discovering: anyio.Event | None = None
        """Set while one request runs the discovery; the others wait on it."""

    def details(self) -> dict[str, str]:
        return {"structured_output": self.mode or "auto"}

    async def generate(self, request: GenerationRequest, send: Send) -> Generation:
        may_follow = True  # once, so a refused follower never sends in that mode again
        while self.mode is None:
            if self._discovering is None:
                self._discovering = anyio.Event()
                try:
                    return await self._discover(request, send)
                finally:
                    done, self._discovering = self._discovering, None
                    done.set()
            discovering = self._discovering
            if self._next == 0 and may_follow:
                may_follow = False
                answer = await self._follow(request, send, discovering)
                if answer is not None:
                    return answer
            else:
                await discovering.wait()
        return await send(request, self.mode)

    async def _follow(self, request: GenerationRequest, send: Send, discovering: anyio.Event) -> Generation | None:
        """Send in the first mode while the discovery runs; None when the answer may be a refusal."""
        try:
            answer = await send(request, MODES[0])
        except ProviderError as exc:
            if not could_be_refusal(exc):
                raise
            await discovering.wait()  # the discovery decides, then this request follows it
            return None
        if self.mode is None and self._next == 0:
            self._settle(MODES[0])
        return answer

    async def _discover(self, request: GenerationRequest, send: Send) -> Generation:
        verified: Generation | None = None
        """The answer to the same request without a response format, once one was needed to verify a refusal."""
        while MODES[self._next] != "prompt":
            mode = MODES[self._next]
            try:
                answer = await send(request, mode)
            except ProviderError as exc:
                if not could_be_refusal(exc):
                    raise  # a fault of the moment: the next request tries this mode again
                if verified is None and not names_the_format(exc):
                    try:
                        verified = await send(request, "prompt")
                    except ProviderError:
                        raise exc from None  # it fails without a response format too: not a refusal
                if self.mode is not None:  # meanwhile a request that followed in this mode got through
                    return verified if verified is not None else await send(request, self.mode)
                self.refused.append(f"{mode}: {exc}")
                self._next += 1
                continue
            self._settle(mode)
            return answer
        self._settle("prompt")
        return verified if verified is not None else await send(request, "prompt")

    def _settle(self, mode: str) -> None:
        if self.mode is None:
            self.mode = mode
            self._settled(mode, list(self.refused))
