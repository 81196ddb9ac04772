"""HTTP provider benchmark: the openrouter provider against the fake OpenAI server, many requests in flight.

    python bench/bench_http.py --requests 2000 --concurrency 500 --latency-ms 200 [--transport httpx]

The fake server runs as a subprocess so its CPU is not counted; the figures are the client's:
wall time, requests/s, CPU-ms per request (process_time), peak RSS and efficiency = ideal / wall,
where ideal = requests * latency / concurrency (what a client with zero overhead would take).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from destilation import (
    GenerationRequest,
    Message,
    PluginContext,
    Provider,
    ProviderError,
    ProviderInfo,
    ProviderRegistrar,
)
from destilation.http import make_http_client
from destilation.registry import Registration
from destilation_openrouter.config import OpenRouterConfig
from destilation_openrouter.plugin import register_providers

SCHEMA = {
    "title": "qa",
    "type": "object",
    "properties": {"question": {"type": "string", "minLength": 10}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
    "additionalProperties": False,
}


FAKE_OPENAI = Path(__file__).resolve().parents[1] / "destilation_openrouter" / "tests" / "fake_openai.py"
"""The fake server is test support of the OpenRouter distribution, shipped in no wheel: run by path."""


def start_server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_OPENAI), "--port", "0", "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    if len(first) != 2 or first[0] != "PORT":
        proc.kill()
        raise SystemExit(f"fake server did not start (got {first!r})")
    return proc, f"http://127.0.0.1:{first[1]}/v1"


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc; None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_provider(base_url: str, transport: str, concurrency: int) -> Provider:
    """Build the provider the way the core does: through the plugin's registration and factory."""
    found: dict[str, Registration] = {}
    register_providers(register=ProviderRegistrar("providers", "openrouter", "destilation-openrouter", found))
    http_client: Any = make_http_client
    if transport == "httpx":
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        http_client = functools.partial(make_http_client, transport=httpx.AsyncHTTPTransport(limits=limits))
    context = PluginContext(data_dir=tempfile.gettempdir(), emit=lambda _e: None, http_client=http_client)
    info = ProviderInfo(name="bench", kind="openai", model="fake/model", concurrency=concurrency)
    provider: Provider = found["openai"].obj(OpenRouterConfig(base_url=base_url), context, info)
    return provider


async def drive(provider: Provider, requests: int, concurrency: int) -> int:
    """Send `requests` generate() calls, `concurrency` at a time; returns how many failed."""
    limit = anyio.Semaphore(concurrency)
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        request = GenerationRequest(
            messages=(
                Message("system", "You write quiz questions as JSON."),
                Message("user", f"Write question number {i} about topic {i % 37} in the style {i % 5}."),
            ),
            response_schema=SCHEMA,
            temperature=0.7,
            max_tokens=256,
        )
        async with limit:
            try:
                await provider.generate(request)
            except ProviderError as exc:
                failures += 1
                if failures == 1:
                    print(f"first failure: {exc}", file=sys.stderr)

    async with anyio.create_task_group() as tg:
        for i in range(requests):
            tg.start_soon(one, i)
    return failures


async def run(args: argparse.Namespace, base_url: str, server_pid: int) -> None:
    provider = build_provider(base_url, args.transport, args.concurrency)
    async with provider:
        if args.warmup:
            await drive(provider, args.warmup, min(args.warmup, args.concurrency))
        server0 = process_cpu_s(server_pid)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        failures = await drive(provider, args.requests, args.concurrency)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        server1 = process_cpu_s(server_pid)
    ideal = args.requests * args.latency_ms / 1000.0 / args.concurrency
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"transport        {args.transport}")
    print(f"requests         {args.requests} ({failures} failed), {args.concurrency} in flight, {args.latency_ms:g} ms")
    print(f"wall             {wall:.2f} s (ideal {ideal:.2f} s)")
    print(f"throughput       {args.requests / wall:.0f} requests/s")
    print(f"client CPU       {cpu * 1000 / args.requests:.3f} ms per request")
    print(f"peak RSS         {peak_mib:.1f} MiB")
    print(f"efficiency       {ideal / wall:.0%}")
    if server0 is not None and server1 is not None:
        server_ms = (server1 - server0) * 1000 / args.requests
        capacity = f"{1000 / server_ms:.0f} requests/s per core" if server_ms else "too fast to measure"
        print(f"fake server CPU  {server_ms:.3f} ms per request ({capacity})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--warmup", type=int, default=0, help="requests sent before measuring (opens connections)")
    args = parser.parse_args()
    proc, base_url = start_server(args.latency_ms)
    try:
        anyio.run(run, args, base_url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
