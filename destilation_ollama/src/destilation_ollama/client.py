"""The HTTP side: one pooled client, one overall deadline per call, every failure a ProviderError.

The provider and `destiler ollama models` share it. Bodies are read under a size cap, streamed
answers line by line as they arrive, and error text is scrubbed of credentials before it leaves.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from destilation import ProviderError, redact_text
from destilation.http import HttpClient, RawResponse, ResponseTooLarge, read_body
from destilation_ollama.host import display
from destilation_ollama.parse import (
    ChatAnswer,
    excerpt,
    load_json,
    parse_chat,
    parse_show,
    parse_tags,
    retry_after,
    status_error,
)
from destilation_ollama.stream import LineSplitter

T = TypeVar("T")
ERROR_BODY_BYTES = 64 * 1024
"""How much of a non-2xx body is read for its message; the rest is dropped."""


def _redact(error: ProviderError) -> ProviderError:
    """Scrub any credential the core's redactor knows (a proxy's token, a URL password) from a server's words."""
    message = str(error)
    shown = redact_text(message)
    if shown == message:
        return error
    return ProviderError(shown, retryable=error.retryable, retry_after=error.retry_after, status=error.status)


class OllamaClient:
    """Ollama's native API at one base URL: `/api/chat`, `/api/tags` and `/api/show`."""

    def __init__(
        self, http: HttpClient, base_url: str, *, name: str, timeout_s: float, max_response_bytes: int
    ) -> None:
        self._http = http
        self.name = name
        self.host = display(base_url)
        self._timeout_s = timeout_s
        self._cap = max_response_bytes
        # Absolute URLs made once: httpx re-parses a relative URL against base_url on every request.
        self._chat_url = httpx.URL(f"{base_url}/api/chat")
        self._tags_url = httpx.URL(f"{base_url}/api/tags")
        self._show_url = httpx.URL(f"{base_url}/api/show")

    async def chat(self, body: bytes, *, stream: bool, model: str) -> ChatAnswer:
        """POST one chat request; a streamed answer is assembled from its NDJSON lines."""
        read = self._read_stream if stream else self._read_whole
        return await self._call("POST", self._chat_url, body, read, model=model)

    async def tags(self) -> list[dict[str, Any]]:
        """The models pulled on the server, as `/api/tags` lists them."""
        raw = await self._call("GET", self._tags_url, None, self._read_bytes, model="")
        return parse_tags(raw, self.name)

    async def show(self, model: str) -> dict[str, Any]:
        """What `/api/show` knows of one model: capabilities, details, model_info."""
        body = json.dumps({"model": model}).encode()
        raw = await self._call("POST", self._show_url, body, self._read_bytes, model=model)
        return parse_show(raw, self.name)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _read_bytes(self, response: RawResponse) -> bytes:
        return await read_body(response, self._cap, strict=True)

    async def _read_whole(self, response: RawResponse) -> ChatAnswer:
        return parse_chat(await read_body(response, self._cap, strict=True), self.name)

    async def _read_stream(self, response: RawResponse) -> ChatAnswer:
        answer = ChatAnswer(self.name)
        splitter = LineSplitter()
        size = 0
        async for chunk in response.chunks():
            size += len(chunk)
            if size > self._cap:
                raise ResponseTooLarge
            for line in splitter.feed(chunk):
                answer.add(load_json(line, self.name))
        for line in splitter.end():
            answer.add(load_json(line, self.name))
        return answer

    async def _call(
        self,
        method: str,
        url: httpx.URL,
        body: bytes | None,
        read: Callable[[RawResponse], Awaitable[T]],
        *,
        model: str,
    ) -> T:
        """One request under an overall deadline; `read` turns a 2xx answer into the result."""
        name = self.name
        try:
            async with self._http.stream_direct(method, url, content=body, deadline_s=self._timeout_s) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return await read(response)
                raw = await read_body(response, ERROR_BODY_BYTES, strict=False)
                wait = retry_after(response.headers.get("retry-after"))
                error = status_error(name, status, raw, model=model, host=self.host, wait=wait)
        except ProviderError as exc:
            raise _redact(exc) from None
        except ResponseTooLarge:
            raise ProviderError(
                f"{name}: response larger than {self._cap} bytes (max_response_bytes)", retryable=True
            ) from None
        except TimeoutError:
            raise ProviderError(
                f"{name}: no answer from {self.host} within {self._timeout_s:g} s", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            detail = excerpt(str(exc)) or type(exc).__name__
            raise _redact(
                ProviderError(f"{name}: cannot reach Ollama at {self.host}: {detail}", retryable=True)
            ) from None
        raise _redact(error)
