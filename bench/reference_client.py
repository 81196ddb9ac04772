"""The reference client of `bench/run.py`: a bare aiohttp loop, the least any client must do.

It sends the given chat request bodies (one JSON object a line, the ones `destiler` sent) to
`URL`, `--concurrency` at a time on one keep-alive pool, parses each answer's JSON content and
appends it to `OUT` as one JSONL line, then fsyncs. A 429 waits its `Retry-After` and a 5xx or a
transport error waits a jittered, doubling backoff, then the same request is sent again, so under
faults it still delivers every sample. No store, no validation beyond JSON, no plugins.

    python bench/reference_client.py URL BODIES OUT --concurrency 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from pathlib import Path

import aiohttp


async def send(session: aiohttp.ClientSession, url: str, body: bytes) -> object:
    """One sample: the request, retried until a 200 whose content parses as JSON."""
    backoff = 0.1
    while True:
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                raw = await answer.read()
                if answer.status == 200:
                    return json.loads(json.loads(raw)["choices"][0]["message"]["content"])
                retry_after = answer.headers.get("Retry-After")
                if answer.status == 429 and retry_after is not None:
                    await asyncio.sleep(float(retry_after))
                    continue
                if answer.status < 500:
                    raise SystemExit(f"reference client: HTTP {answer.status}: {raw[:200]!r}")
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(backoff * (0.5 + random.random()))
        backoff = min(backoff * 2, 5.0)


async def run(url: str, bodies: list[bytes], out: Path, concurrency: int) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    with out.open("w", encoding="utf-8") as sink:

        async def worker(session: aiohttp.ClientSession) -> None:
            while not queue.empty():
                sample = await send(session, url, queue.get_nowait())
                sink.write(json.dumps(sample) + "\n")

        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(worker(session) for _ in range(min(concurrency, len(bodies)))))
        sink.flush()
        os.fsync(sink.fileno())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the chat completions URL")
    parser.add_argument("bodies", type=Path, help="request bodies, one JSON object a line")
    parser.add_argument("out", type=Path, help="the JSONL file of answers")
    parser.add_argument("--count", type=int, help="send only the first COUNT bodies")
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    bodies = [line.encode() for line in args.bodies.read_text(encoding="utf-8").splitlines() if line]
    bodies = bodies[: args.count] if args.count else bodies
    if not bodies:
        sys.exit(f"reference client: no request bodies in {args.bodies}")
    asyncio.run(run(args.url, bodies, args.out, args.concurrency))


if __name__ == "__main__":
    main()
