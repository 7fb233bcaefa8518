"""A closed-loop HTTP load generator (aiohttp), run as its own process; prints JSON results.

`--concurrency` workers each send one request, wait for the whole answer, and send the next,
for `--warmup` + `--seconds` seconds. Only requests that both start and finish inside the
measured window (after the warm-up) count.

A body template may hold `{n}` (a number that grows with every request across all workers)
and `{key}` (`n % --keys`), substituted as text, so that every request can differ:

    python tests/perf/loadgen.py --url http://127.0.0.1:8080/api/process/v1 --method POST \\
        --header "Authorization: Bearer $TOKEN" --keys 200 \\
        --body '{"name": "bench-{key}", "script": "echo-params", "description": "run {n}"}' \\
        --concurrency 32 --seconds 10

Output (one JSON object on stdout): requests, seconds, rps, latency percentiles in ms
(p50, p90, p99, max), statuses (count by HTTP status), errors (exceptions plus answers
>= 400) and a few error samples.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections import Counter

import aiohttp


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict:
    headers = {"Content-Type": "application/json"} if args.body is not None else {}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    numbers = itertools.count()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    samples: list[str] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)

    loop_start = time.perf_counter()
    measure_from = loop_start + args.warmup
    measure_until = measure_from + args.seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        # Closed loop: the next request as soon as the last one answered.
        while time.perf_counter() < measure_until:
            await worker_once(session)

    async def paced(session: aiohttp.ClientSession) -> None:
        # Open loop: one request every 1/rate seconds, whatever the answers' pace, at most
        # `concurrency` in flight (a request that finds them all busy waits for one).
        slots = asyncio.Semaphore(args.concurrency)
        interval = 1.0 / args.rate
        tasks = set()

        async def one() -> None:
            try:
                await worker_once(session)
            finally:
                slots.release()

        due = loop_start
        while due < measure_until:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await slots.acquire()
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            due += interval
        await asyncio.gather(*tasks)

    async def worker_once(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        started = time.perf_counter()
        n = next(numbers)
        data = None
        if args.body is not None:
            data = args.body.replace("{n}", str(n)).replace("{key}", str(n % args.keys)).encode()
        try:
            async with session.request(args.method, args.url, data=data, headers=headers) as response:
                body = await response.read()
                status, failed = str(response.status), response.status >= 400
                detail = body[:200].decode(errors="replace")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            status, failed, detail = "exception", True, repr(error)
        finished = time.perf_counter()
        if started >= measure_from and finished <= measure_until:
            latencies.append(finished - started)
            statuses[status] += 1
            if failed:
                errors += 1
                if len(samples) < 5:
                    samples.append(f"{status}: {detail}")

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if args.rate:
            await paced(session)
        else:
            await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))

    latencies.sort()
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {
        "url": args.url,
        "method": args.method,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "requests": len(latencies),
        "rps": len(latencies) / args.seconds,
        "p50_ms": ms(percentile(latencies, 0.50)),
        "p90_ms": ms(percentile(latencies, 0.90)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "statuses": dict(statuses),
        "errors": errors,
        "error_samples": samples,
        "sent_including_warmup": next(numbers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--body", help="request body template with {n} and {key}")
    parser.add_argument("--keys", type=int, default=200, help="{key} is n modulo this")
    parser.add_argument("--rate", type=float, help="open loop: requests per second (concurrency caps those in flight)")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
