"""Threads (the GIL is released while publishing) and fork (a producer made and used in the
parent works in the child)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import List

import pytest

import push
from conftest import Server, first_id


class Counter(threading.Thread):
    """A Python thread that counts as fast as it can until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.running = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        self.running.set()
        while not self.stopped.is_set():
            self.count += 1

    def start(self) -> None:
        super().start()
        self.running.wait(10)


def test_a_blocking_publish_releases_the_gil(silent_url: str) -> None:
    producer = push.Producer(silent_url, timeout=1.0)
    counter = Counter()
    counter.start()
    before = counter.count
    started = time.monotonic()
    with pytest.raises(push.TimeoutError):
        producer.publish("x").to("/never")
    elapsed = time.monotonic() - started
    during = counter.count - before
    counter.stopped.set()
    counter.join()
    assert 0.9 < elapsed < 5
    # Holding the GIL for that second would have frozen the counter (the interpreter only
    # switches threads between bytecodes); released, it counts freely.
    assert during > 100_000, f"the counter only advanced {during} times in {elapsed:.2f}s"


def test_eight_threads_publish_concurrently_while_python_keeps_running(server: Server) -> None:
    cursor = first_id(server, "/threads")
    producer = push.Producer(server.url)
    counter = Counter()
    counter.start()
    per_thread, errors = 100, []  # type: int, List[BaseException]
    ids: List[List[str]] = [[] for _ in range(8)]

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                ids[n].append(producer.publish(f"t{n}-{i}").to("/threads"))
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    before = counter.count
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    during = counter.count - before
    counter.stopped.set()
    counter.join()

    assert errors == []
    messages = server.messages("/threads", after=cursor)
    assert len(messages) == 8 * per_thread
    assert sorted(m["data"] for m in messages) == sorted(f"t{n}-{i}" for n in range(8) for i in range(per_thread))
    # Each thread's own publishes arrive in its order.
    for n in range(8):
        assert [m["id"] for m in messages if m["data"].startswith(f"t{n}-")] == ids[n]
    assert during > 10_000, f"the counter thread barely ran ({during}) while 8 threads published"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_producer_made_and_used_before_fork_publishes_from_the_child(server: Server) -> None:
    producer = push.Producer(server.url)
    parent_id = producer.publish("from parent").to("/fork")

    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        code = 1
        try:
            producer.publish(f"from child {os.getpid()}").to("/fork")

            async def main() -> str:
                return await producer.publish("async from child").to_async("/fork")

            asyncio.run(main())
            code = 0
        except BaseException as e:  # noqa: BLE001
            print(f"child failed: {e!r}", file=sys.stderr)
        finally:
            os._exit(code)

    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's producer still works after the fork, too.
    producer.publish("parent again").to("/fork")
    data = [m["data"] for m in server.messages("/fork", after=parent_id)]
    assert data == [f"from child {pid}", "async from child", "parent again"]
