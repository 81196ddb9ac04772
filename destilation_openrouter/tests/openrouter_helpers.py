"""Purpose-built HTTP servers for the error cases, run on the test's own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

KEY = "sk-or-v1-test-secret-0123456789"


class Recorder:
    """What a purpose-built test app saw: the last request's JSON body and headers."""

    def __init__(self) -> None:
        self.body: Any = None
        self.headers: Mapping[str, str] = CIMultiDict()


@contextlib.asynccontextmanager
async def serve(handler: Callable[[web.Request], Any], recorder: Recorder | None = None) -> AsyncIterator[str]:
    """Serve one handler for every path on the test's own loop; yields the base URL."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if recorder is not None:
            recorder.headers = CIMultiDict(request.headers)
            raw = await request.read()
            recorder.body = raw or None
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", wrapped)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1"
    finally:
        await runner.cleanup()


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Callable[..., Any]:
    async def handler(_request: web.Request) -> web.Response:
        return web.json_response(data, status=status, headers=headers)

    return handler


def raw_reply(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Callable[..., Any]:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, headers=headers, content_type="application/json")

    return handler
