"""The suite's one helper module. Fixtures: a real push-server per test, in this process
(`push.Server`, on a free port, over real sockets), a silent listener, and helpers to read what a
server holds and to wait for observable state (never for a fixed time).

`PUSH_SERVER` is the installed package's `push-server` console script, for the tests that run the
command itself.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import push

REPO = Path(__file__).resolve().parents[2]
PUSH_SERVER = str(Path(sys.executable).parent / "push-server")
# docs/AUTH.md's token test vector: /rooms/*, consumer alice, expires at 2000000000, secret s3cret.
VECTOR = "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY"
# Variables that steer these tests, not the server or the producer.
TEST_SETTINGS = {"PUSH_SERVER_BIN", "PUSH_SKIP_PACKAGING", "PUSH_WHEEL", "PUSH_PY_VENV"}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Polls `condition` (observable state: a gauge, a socket, a process) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)  # the poll interval, not a synchronisation


def metric(url: str, line_prefix: str) -> float:
    """A value of the server's /_push/metrics, e.g. `push_connections{transport="long-poll"}`."""
    with urllib.request.urlopen(url + "/_push/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.split()[-1])
    return 0.0


def wait_for_long_polls(url: str, count: int = 1, timeout: float = 10) -> None:
    """Until the server at `url` holds `count` open long-polls (its gauge says so)."""
    gauge = 'push_connections{transport="long-poll"}'
    wait_until(lambda: metric(url, gauge) >= count, f"{count} long-poll(s) to reach the server", timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A started `push.Server` and what the tests read from it."""

    def __init__(self, **options: push.ServerOption) -> None:
        self.server = push.Server(**options).start()
        self.url = self.server.url
        self.port = self.server.port

    def stop(self) -> None:
        self.server.stop()

    def wait_for_long_polls(self, count: int = 1, timeout: float = 10) -> None:
        wait_for_long_polls(self.url, count, timeout)

    def messages(self, channel: str, after: str = "0") -> List[Dict[str, Any]]:
        """Every message of `channel` after `after`, now. A JSON batch is bounded (--max-batch),
        so this pages with `after=` while the server says `more` (it does only when more messages
        follow); `timeout=0` makes each read answer at once, even when there is nothing."""
        out: List[Dict[str, Any]] = []
        more = True
        while more:
            request = urllib.request.Request(f"{self.url}{channel}?after={after}&timeout=0", headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as r:
                batch = json.loads(r.read())
            out.extend(batch["messages"])
            after, more = batch["last_id"], batch["more"]
        return out


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The server reads PUSH_* like its flags, the producer PUSH_URL and PUSH_PUBLISH_KEY, Token.sign
    # PUSH_SECRET: tests set what they need explicitly.
    for name in list(os.environ):
        if name.startswith("PUSH_") and name not in TEST_SETTINGS:
            monkeypatch.delenv(name)


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    started: List[Server] = []

    def start(**options: push.ServerOption) -> Server:
        server = Server(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    # History large enough to count every message of the biggest test.
    return start_server(history_size=10000)


class Sse:
    """An SSE subscription read line by line (http.client, as any client would)."""

    def __init__(self, server: Server, path: str, headers: Optional[Dict[str, str]] = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def next_event(self) -> Optional[Dict[str, str]]:
        """The next event's fields (`event`, `data`, `id`), or None at the end of the stream.
        Data lines are joined with newlines, as an EventSource does."""
        fields: Dict[str, str] = {}
        while True:
            line = self.response.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text == "":
                if fields:
                    return fields
                continue
            if text.startswith(":"):
                continue  # a heartbeat
            name, _, value = text.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = fields[name] + "\n" + value if name == "data" and "data" in fields else value

    def close(self) -> None:
        self.connection.close()


class Silent:
    """A TCP listener that accepts connections and never answers: requests time out.
    `connected` is set once a client has connected (a request is in flight)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(1024)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connected = threading.Event()
        self.accepted: List[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return  # closed
            self.accepted.append(connection)  # held open, never read or answered
            self.connected.set()

    def close(self) -> None:
        try:
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.socket.close()
        self.thread.join(5)
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    listener = Silent()
    yield listener
    listener.close()


@pytest.fixture
def silent_url(silent: Silent) -> str:
    return silent.url


@pytest.fixture
def closed_url() -> str:
    """A port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


def first_id(server: Server, channel: str) -> str:
    """A cursor: the id of a marker message published first."""
    return push.Producer(server.url).publish("marker").to(channel)


def data_of(message: Dict[str, Any]) -> bytes:
    import base64

    if message.get("encoding") == "base64":
        return base64.b64decode(message["data"])
    return str(message["data"]).encode()

