"""push.Server: the server in this process. Start and stop, the context managers, options as the
flags (and their errors), serving over real sockets, and that neither the GIL nor the event loop is
held while it starts or stops."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import push
from conftest import Server, wait_until


def health(url: str) -> int:
    with urllib.request.urlopen(url + "/_push/health", timeout=5) as r:
        return int(r.status)


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def watchdog() -> Iterator[None]:
    # A C thread that needs no GIL: if a test deadlocks (a held GIL or loop), fail loudly instead.
    faulthandler.dump_traceback_later(60, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


class HangingBroker:
    """A listening socket posing as RabbitMQ: the server's start blocks connecting to it until a
    Python thread (or the event loop) accepts and hangs up, so start returns only if that ran."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.socket.getsockname()[1]}/%2f"

    def close(self) -> None:
        self.socket.close()


def test_start_and_stop_explicitly() -> None:
    server = push.Server()
    assert not server.running
    with pytest.raises(RuntimeError, match="not been started"):
        server.url
    assert server.start() is server
    assert server.running
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
    assert health(server.url) == 200
    assert server.start() is server and health(server.url) == 200  # already running: nothing to do
    server.stop()
    assert not server.running and refused(server.port)
    server.stop()  # idempotent
    assert server.url == f"http://127.0.0.1:{server.port}", "the address stays readable after stop"
    # Started again, it serves again (a new free port).
    server.start()
    assert health(server.url) == 200
    server.stop()


def test_context_manager_starts_and_stops() -> None:
    with push.Server(history_size=5) as server:
        assert server.running
        for i in range(7):
            push.Producer(server.url).publish(f"m{i}").to("/ctx")
        port = server.port
        with urllib.request.urlopen(
            urllib.request.Request(f"{server.url}/ctx?after=0&timeout=0", headers={"Accept": "application/json"}), timeout=5
        ) as r:
            kept = [m["data"] for m in json.loads(r.read())["messages"]]
        assert kept == ["m2", "m3", "m4", "m5", "m6"], "history_size=5 keeps the last five"
    assert not server.running and refused(port)


def test_exceptions_pass_through_the_context_manager() -> None:
    with pytest.raises(KeyError):
        with push.Server() as server:
            raise KeyError("mine")
    assert not server.running


def test_async_context_manager(watchdog: None) -> None:
    async def main() -> int:
        async with push.Server() as server:
            assert server.running
            message_id = await push.AsyncProducer(server.url).publish("async hello").to("/aio")
            assert message_id
            return server.port

    port = asyncio.run(main())
    assert refused(port)


def test_async_start_does_not_block_the_event_loop(watchdog: None) -> None:
    broker = HangingBroker()
    accepted: List[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        broker.socket.setblocking(False)

        async def hang_up() -> None:
            connection, _ = await loop.sock_accept(broker.socket)
            accepted.append(time.monotonic())
            connection.close()

        task = asyncio.ensure_future(hang_up())
        # The loop must keep running while the server connects, or hang_up never runs.
        with pytest.raises(push.ConnectionFailedError):
            async with push.Server(broker=broker.url):
                pass
        await task

    try:
        asyncio.run(main())
    finally:
        broker.close()
    assert accepted


def test_the_gil_is_released_while_start_blocks(watchdog: None) -> None:
    broker = HangingBroker()
    ran_in_python: List[str] = []

    def hang_up() -> None:
        connection, _ = broker.socket.accept()
        ran_in_python.append("accepted")
        connection.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    try:
        # start() waits for the broker, which only hangs up when the thread above runs Python code.
        with pytest.raises(push.ConnectionFailedError):
            push.Server(broker=broker.url).start()
    finally:
        thread.join()
        broker.close()
    assert ran_in_python == ["accepted"]


def test_options_are_the_flags() -> None:
    with push.Server(
        publish_key="k3y",
        long_poll_timeout="1s",
        maxPayloadBytes=64,  # camelCase works too
        cors_origins=["https://a.example", "https://b.example"],
        allow_open_publish=False,
        history_age=None,  # None leaves the default
    ) as server:
        with pytest.raises(push.UnauthorizedError):
            push.Producer(server.url).publish("no key").to("/opts")
        producer = push.Producer(server.url, publish_key="k3y")
        producer.publish("x" * 64).to("/opts")
        with pytest.raises(push.PayloadTooLargeError):
            producer.publish("x" * 65).to("/opts")
        started = time.monotonic()
        with urllib.request.urlopen(f"{server.url}/opts-empty", timeout=10) as r:
            assert r.status == 204
        assert time.monotonic() - started < 5, "long_poll_timeout='1s' applies"
        request = urllib.request.Request(f"{server.url}/opts?timeout=0&after=0", headers={"Origin": "https://b.example"})
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "https://b.example"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"no_such_option": 1}, "--no-such-option"),
        ({"history_size": "lots"}, "lots"),
        ({"bind": "0.0.0.0:0"}, "publish key"),
        ({"help": True}, "not a server option"),
    ],
)
def test_bad_options_raise_invalid_config(options: "dict[str, push.ServerOption]", message: str) -> None:
    with pytest.raises(push.InvalidConfigError, match=message) as caught:
        push.Server(**options)
    assert caught.value.code == "INVALID_CONFIG"
    assert isinstance(caught.value, ValueError)


def test_option_values_of_other_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="history_size"):
        push.Server(history_size=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cors_origins"):
        push.Server(cors_origins=[True])


def test_a_taken_port_raises_invalid_config() -> None:
    with push.Server() as first:
        second = push.Server(bind=f"127.0.0.1:{first.port}")
        with pytest.raises(push.InvalidConfigError, match="cannot listen"):
            second.start()
        assert not second.running
        assert health(first.url) == 200


def long_poll(url: str, out: List[Optional[bytes]]) -> threading.Thread:
    def run() -> None:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                out.append(r.read())
        except (OSError, urllib.error.URLError):
            out.append(None)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_publish_releases_a_long_poll(server: Server) -> None:
    got: List[Optional[bytes]] = []
    thread = long_poll(server.url + "/greetings", got)
    server.wait_for_long_polls(1)
    push.Producer(server.url).publish("hi there!").to("/greetings")
    thread.join(10)
    assert got == [b"hi there!"]


def test_data_dir_keeps_messages_across_a_stop_and_a_new_start(tmp_path: Path) -> None:
    with push.Server(data_dir=tmp_path, fsync="always") as server:
        producer = push.Producer(server.url)
        ids = [producer.publish(body).to("/kept") for body in ("m1", "m2", "m3")]
    again = Server(data_dir=str(tmp_path))
    try:
        read = [(m["id"], m["data"]) for m in again.messages("/kept", after=str(int(ids[0]) - 1))]
        assert read == list(zip(ids, ["m1", "m2", "m3"]))
    finally:
        again.stop()


def test_stop_while_a_long_poll_is_open_returns_promptly() -> None:
    server = Server(long_poll_timeout="60s")
    got: List[Optional[bytes]] = []
    thread = long_poll(server.url + "/waiting", got)
    server.wait_for_long_polls(1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    thread.join(10)
    assert not thread.is_alive() and len(got) == 1, "the open long-poll was answered or closed"
    assert not server.server.running


def test_repr() -> None:
    server = push.Server()
    assert repr(server) == "<push.Server not started>"
    with server:
        assert repr(server) == f"<push.Server {server.url} running>"
    assert repr(server) == f"<push.Server {server.url} stopped>"


def test_a_server_dropped_while_running_stops() -> None:
    server = push.Server().start()
    port = server.port
    del server
    gc.collect()
    wait_until(lambda: refused(port), "the dropped server to stop listening")


def test_server_main_is_the_command_line(capfd: pytest.CaptureFixture[str]) -> None:
    # The arguments without the program name, as Ruby's Push::Server.cli(ARGV) takes them.
    assert push.server_main(["--help"]) == 0
    assert "Usage: push-server" in capfd.readouterr().out
    assert push.server_main(["--version"]) == 0
    assert "push-server" in capfd.readouterr().out
    assert push.server_main(["--no-such-flag"]) == 2
    assert "--no-such-flag" in capfd.readouterr().err
