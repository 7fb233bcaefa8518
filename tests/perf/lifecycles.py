"""A closed-loop load tool for whole lifecycles, run as its own process; prints JSON results.

`--kind altinn`: each of `--concurrency` clients repeats create, start, next, next on an Altinn
app (the definition `--key`, already posted), i.e. four dependent calls per lifecycle.
`--kind script`: each client starts the `echo-params` script (DSpace) and waits for the
process to be over (Concord's waitForCompletion).
`--kind spawn`: no service; each client spawns the echo-params script itself (the baseline).

A lifecycle counts when it starts and ends inside the measured window (after `--warmup`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

from loadgen import percentile

PARTY = "347829"
ECHO = Path(__file__).resolve().parents[2] / "services" / "scripts" / "shipped" / "echo_params.py"


async def altinn(session: aiohttp.ClientSession, base: str, key: str) -> None:
    async with session.post(f"{base}/apps/{key}/api/v1/instances", params={"instanceOwnerPartyId": PARTY}) as r:
        if r.status != 201:
            raise RuntimeError(f"create: {r.status} {await r.text()}")
        path = f"{base}/apps/{key}/api/v1/instances/{PARTY}/{(await r.json())['id'].split('/')[1]}/process"
    for method, url in (("POST", f"{path}/start"), ("PUT", f"{path}/next"), ("PUT", f"{path}/next")):
        async with session.request(method, url) as r:
            if r.status != 200:
                raise RuntimeError(f"{method} {url.rsplit('/', 1)[1]}: {r.status} {await r.text()}")
            await r.read()


async def script(session: aiohttp.ClientSession, base: str, _key: str) -> None:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("properties", json.dumps([{"name": "-m", "value": "hello"}]))
    async with session.post(f"{base}/api/system/scripts/echo-params/processes", data=form) as r:
        if r.status != 202:
            raise RuntimeError(f"start: {r.status} {await r.text()}")
        pid = (await r.json())["processId"]
    async with session.get(f"{base}/api/v1/process/{pid}/waitForCompletion", params={"timeout": "60000"}) as r:
        body = await r.json()
        if r.status != 200 or body.get("status") != "FINISHED":
            raise RuntimeError(f"wait: {r.status} {body}")


async def spawn(_session: object, _base: str, _key: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-u", str(ECHO), "-m", "hello",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"spawn exited {process.returncode}")


KINDS = {"altinn": altinn, "script": script, "spawn": spawn}


async def run(args: argparse.Namespace) -> dict:
    one = KINDS[args.kind]
    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    start = time.perf_counter()
    measure_from, measure_until = start + args.warmup, start + args.warmup + args.seconds
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while (began := time.perf_counter()) < measure_until:
            sent += 1
            try:
                await one(session, args.base, args.key)
            except Exception as error:  # noqa: BLE001 - counted and sampled
                if len(errors) < 5:
                    errors.append(repr(error)[:300])
                errors_count[0] += 1
                continue
            ended = time.perf_counter()
            if began >= measure_from and ended <= measure_until:
                latencies.append(ended - began)

    errors_count = [0]
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=120)) as session:
        await asyncio.gather(*(client(session) for _ in range(args.concurrency)))
    latencies.sort()
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {
        "kind": args.kind, "concurrency": args.concurrency, "seconds": args.seconds,
        "requests": len(latencies), "rps": len(latencies) / args.seconds,
        "p50_ms": ms(percentile(latencies, 0.5)), "p99_ms": ms(percentile(latencies, 0.99)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "errors": errors_count[0], "error_samples": errors, "sent_including_warmup": sent,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(KINDS), required=True)
    parser.add_argument("--base", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--key", default="linear")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
