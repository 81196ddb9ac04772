"""Call-policy overhead: calls/s and CPU per call through the policy vs calling the provider directly.

    python bench/bench_policy.py --calls 20000 --in-flight 500 [--latency-ms 0] [--rpm N]

Both loops run in the same process, one after the other, on an in-process provider that answers
after `--latency-ms` (0: at once, after one event-loop turn), so the difference is the policy's
own cost: slots, the pacing gate, the deadline scope, bookkeeping. With `--rpm` every request
also passes a requests-per-minute window (set it high enough not to wait, or it measures waiting).
"""

from __future__ import annotations

import argparse
import time

import anyio
import anyio.lowlevel

from destilation.config import ProviderSpec
from destilation.defaults import classify_error
from destilation.domain import Generation, GenerationRequest, Message, Usage
from destilation.interfaces import Provider, ProviderInfo
from destilation.policy import make_policy

REQUEST = GenerationRequest((Message("user", "Write one short question about tides."),), max_tokens=64)


class Instant(Provider):
    """Answers after `latency` seconds (or one checkpoint), like a server that is never the bottleneck."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.answer = Generation("ok", "bench", "bench-1", usage=Usage(12, 3))

    def info(self) -> ProviderInfo:
        return ProviderInfo("bench", "bench", "bench-1")

    async def models(self) -> list[str]:
        return ["bench-1"]

    async def generate(self, request: GenerationRequest) -> Generation:
        if self.latency:
            await anyio.sleep(self.latency)
        else:
            await anyio.lowlevel.checkpoint()
        return self.answer


async def drive(call: object, calls: int, in_flight: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds for `calls` calls with `in_flight` at once."""
    per_task = calls // in_flight

    async def worker() -> None:
        for _ in range(per_task):
            await call(REQUEST)  # type: ignore[operator]

    wall, cpu = time.perf_counter(), time.process_time()
    async with anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(worker)
    return time.perf_counter() - wall, time.process_time() - cpu


async def main(args: argparse.Namespace) -> None:
    provider = Instant(args.latency_ms / 1000)
    spec = ProviderSpec(kind="bench", concurrency=args.in_flight, requests_per_minute=args.rpm)
    policy = make_policy(provider, spec, parts=1, classify=classify_error, emit=lambda _e: None)
    for _ in range(args.in_flight * 4):  # the adaptive limit ramps up to the full concurrency first
        await policy.generate(REQUEST)
    calls = (args.calls // args.in_flight) * args.in_flight
    rows = []
    for name, call in (("direct", provider.generate), ("policy", policy.generate)):
        wall, cpu = await drive(call, calls, args.in_flight)
        rows.append((name, calls / wall, cpu * 1e6 / calls))
        print(f"{name:7s} {calls:7d} calls  {calls / wall:10.0f} calls/s  {cpu * 1e6 / calls:7.1f} µs CPU/call")
    (_, direct_rate, direct_cpu), (_, policy_rate, policy_cpu) = rows
    added = policy_cpu - direct_cpu
    print(f"ratio   policy/direct calls/s {policy_rate / direct_rate:.2f}; policy adds {added:.1f} µs CPU/call")
    health = policy.health("bench", "bench")
    print(f"health  {health.requests} requests, limit {health.concurrency_limit}, errors {health.errors}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rpm", type=int, default=None, help="add a requests-per-minute window")
    anyio.run(main, parser.parse_args())
