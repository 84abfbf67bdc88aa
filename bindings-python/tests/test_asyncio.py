"""asyncio: to_async, AsyncProducer, many concurrent publishes, cancellation, no loop blocking."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import pytest

import push
import push.aio
from conftest import Server, Silent, first_id


def test_one_thousand_concurrent_publishes_on_one_loop_all_arrive(start_server: Callable[..., Server]) -> None:
    # Small JSON batches, so counting has to page with after=.
    server = start_server(history_size=10000, max_batch=250)
    cursor = first_id(server, "/many")
    producer = push.Producer(server.url)

    async def main() -> list[str]:
        return await asyncio.gather(*(producer.publish(f"m{i}").to_async("/many") for i in range(1000)))

    ids = asyncio.run(main())
    assert len(set(ids)) == 1000
    messages = server.messages("/many", after=cursor)  # pages through batches
    assert len(messages) == 1000
    # In id order, and each id answers the publish that got it.
    assert [int(m["id"]) for m in messages] == sorted(int(i) for i in ids)
    by_id = {m["id"]: m["data"] for m in messages}
    assert [by_id[i] for i in ids] == [f"m{i}" for i in range(1000)]


def test_async_producer_context_manager(server: Server) -> None:
    async def main() -> str:
        async with push.AsyncProducer(server.url) as producer:
            assert producer.url == server.url
            return await producer.publish(b"\x00bin", content_type="application/x-bin").to("/aio")

    message_id = asyncio.run(main())
    [message] = server.messages("/aio")
    assert message["id"] == message_id and message["content_type"] == "application/x-bin"


def test_module_level_async_publish(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_URL", server.url)
    message_id = asyncio.run(push.aio.publish("async hi", to="/aio-module"))
    assert [(m["id"], m["data"]) for m in server.messages("/aio-module")] == [(message_id, "async hi")]


def test_the_loop_keeps_running_while_a_publish_waits(silent_url: str) -> None:
    producer = push.Producer(silent_url, timeout=1.0)

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)  # the point: count how often the loop gets to run
                ticks += 1

        task = asyncio.create_task(ticker())
        with pytest.raises(push.TimeoutError):
            await producer.publish("x").to_async("/never")
        task.cancel()
        return ticks

    started = time.monotonic()
    ticks = asyncio.run(main())
    assert 0.9 < time.monotonic() - started < 5
    assert ticks > 30, f"the event loop was blocked: only {ticks} ticks in ~1 s"


def test_cancelling_a_publish_cancels_the_future(silent: Silent) -> None:
    producer = push.Producer(silent.url, timeout=30)

    async def main() -> None:
        future = producer.publish("x").to_async("/never")
        assert await asyncio.to_thread(silent.connected.wait, 10), "the publish never connected"
        future.cancel()
        with pytest.raises(asyncio.CancelledError):
            await future
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(producer.publish("y").to_async("/never"), 0.1)

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5


def test_closing_the_producer_fails_publishes_in_flight(silent: Silent) -> None:
    async def main() -> None:
        producer = push.AsyncProducer(silent.url, timeout=30)
        pending = asyncio.ensure_future(producer.publish("x").to("/never"))
        assert await asyncio.to_thread(silent.connected.wait, 10), "the publish never connected"
        await producer.aclose()
        with pytest.raises(push.ConnectionFailedError, match="closed"):
            await asyncio.wait_for(pending, 5)

    asyncio.run(main())


def test_temporary_producer_lives_until_its_publish_is_done(server: Server) -> None:
    async def main() -> str:
        return await push.Producer(server.url).publish("temp").to_async("/temp")

    message_id = asyncio.run(main())
    assert [m["id"] for m in server.messages("/temp")] == [message_id]


def test_to_async_needs_a_running_loop(server: Server) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        push.Producer(server.url).publish("x").to_async("/c")


def test_async_errors_are_the_same_classes(server: Server, closed_url: str) -> None:
    async def main() -> None:
        with pytest.raises(push.InvalidChannelError):
            await push.Producer(server.url).publish("x").to_async("no-slash")
        with pytest.raises(push.ConnectionFailedError):
            await push.Producer(closed_url).publish("x").to_async("/c")

    asyncio.run(main())


def test_exiting_right_after_async_publishes_is_clean(server: Server) -> None:
    # Runtime threads may still be handing results to the loop when the interpreter exits;
    # they must not reach into a finalizing interpreter (that used to abort ~1 run in 30).
    import subprocess
    import sys

    script = (
        "import asyncio, push\n"
        f"p = push.Producer({server.url!r})\n"
        "async def main():\n"
        "    await asyncio.gather(*(p.publish('x').to_async('/exit') for _ in range(20)))\n"
        "    p.publish('x').to_async('/exit')  # still in flight when the loop closes\n"
        f"    async with push.AsyncProducer({server.url!r}) as producer:\n"
        "        try:\n"
        "            await producer.publish('x').to('bad channel')\n"
        "        except push.InvalidChannelError:\n"
        "            pass\n"
        "asyncio.run(main())\n"
    )
    for _ in range(40):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
