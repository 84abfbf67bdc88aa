"""Publish rate of push-rs for Python vs. a plain HTTP POST with requests / httpx.

    python bench/python_publish.py [--n 5000] [--concurrency 64]

Starts its own push-server on a free port (PUSH_SERVER_BIN, else <repo>/target/release/
push-server) unless PUSH_URL names a running one. One run; every client posts the same
11-byte payload to the same server, one channel each, and every publish is checked (2xx).
Sequential rows: one thread, one request at a time, keep-alive. Concurrent rows: one
asyncio loop with `--concurrency` publishes in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Awaitable, Callable, List, Optional, Tuple

import httpx
import requests

import push

PAYLOAD = b"hello world"


def start_server() -> Tuple[str, Optional[subprocess.Popen[bytes]]]:
    if os.environ.get("PUSH_URL"):
        return os.environ["PUSH_URL"], None
    binary = os.environ.get("PUSH_SERVER_BIN") or str(Path(__file__).resolve().parents[2] / "target/release/push-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSH_")}
    env["PUSH_LOG"] = "warn"
    process = subprocess.Popen([binary, "--bind", f"127.0.0.1:{port}"], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_push/health", timeout=1).close()
            return url, process
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("push-server did not start")


def timed(n: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return n / (time.perf_counter() - started)


def sequential(url: str, n: int) -> List[Tuple[str, float]]:
    producer = push.Producer(url)
    producer.publish(PAYLOAD).to("/bench/warmup")

    def with_push() -> None:
        publish = producer.publish(PAYLOAD)
        for _ in range(n):
            publish.to("/bench/push")

    session = requests.Session()
    session.post(url + "/bench/warmup", data=PAYLOAD).raise_for_status()

    def with_requests() -> None:
        for _ in range(n):
            session.post(url + "/bench/requests", data=PAYLOAD).raise_for_status()

    client = httpx.Client()
    client.post(url + "/bench/warmup", content=PAYLOAD).raise_for_status()

    def with_httpx() -> None:
        for _ in range(n):
            client.post(url + "/bench/httpx", content=PAYLOAD).raise_for_status()

    rows = [
        ("requests.Session().post", timed(n, with_requests)),
        ("httpx.Client().post", timed(n, with_httpx)),
        ("push Producer.publish().to", timed(n, with_push)),
    ]
    producer.close()
    session.close()
    client.close()
    return rows


async def concurrent(url: str, n: int, concurrency: int) -> List[Tuple[str, float]]:
    async def run(n: int, one: Callable[[], Awaitable[None]]) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def guarded() -> None:
            async with gate:
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(guarded() for _ in range(n)))
        return n / (time.perf_counter() - started)

    producer = push.AsyncProducer(url)
    await producer.publish(PAYLOAD).to("/bench/warmup")

    async def with_push() -> None:
        await producer.publish(PAYLOAD).to("/bench/push-async")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        (await client.post(url + "/bench/warmup", content=PAYLOAD)).raise_for_status()

        async def with_httpx() -> None:
            (await client.post(url + "/bench/httpx-async", content=PAYLOAD)).raise_for_status()

        rows = [
            ("httpx.AsyncClient().post", await run(n, with_httpx)),
            ("push AsyncProducer.publish().to", await run(n, with_push)),
        ]
    await producer.aclose()
    return rows


def table(title: str, rows: List[Tuple[str, float]]) -> None:
    base = rows[0][1]
    print(f"\n{title}")
    print(f"  {'client':34} {'msgs/s':>10} {'vs ' + rows[0][0].split('.')[0]:>14}")
    for name, rate in rows:
        print(f"  {name:34} {rate:10.0f} {rate / base:13.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=5000, help="publishes per client (default 5000)")
    parser.add_argument("--concurrency", type=int, default=64, help="in flight in the asyncio rows (default 64)")
    args = parser.parse_args()
    url, process = start_server()
    try:
        print(f"push-rs {push.__version__}, Python {sys.version.split()[0]}, server {url}, {args.n} publishes per row")
        table("sequential (one thread, keep-alive)", sequential(url, args.n))
        table(f"asyncio ({args.concurrency} in flight)", asyncio.run(concurrent(url, args.n, args.concurrency)))
    finally:
        if process:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
