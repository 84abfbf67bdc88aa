"""Fixtures: a real push-server per test on a free port, and helpers to read what it holds.

The server binary comes from PUSH_SERVER_BIN, else <repo>/target/release/push-server
(built by the root script; these tests never build it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_BIN = os.environ.get("PUSH_SERVER_BIN") or str(REPO / "target" / "release" / "push-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running push-server process."""

    def __init__(self, *flags: str) -> None:
        if not os.access(SERVER_BIN, os.X_OK):
            pytest.fail(f"push-server not found at {SERVER_BIN}; build it (cargo build --release -p push-server) or set PUSH_SERVER_BIN")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUSH_")}
        env["PUSH_LOG"] = "warn"
        self.process = subprocess.Popen(
            [SERVER_BIN, "--bind", f"127.0.0.1:{self.port}", *flags],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(self.url + "/_push/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                pytest.fail(f"push-server did not start: {err}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()

    def metric(self, line_prefix: str) -> float:
        with urllib.request.urlopen(self.url + "/_push/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(line_prefix + " "):
                    return float(line.split()[-1])
        return 0.0

    def wait_for_long_polls(self, count: int = 1, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.metric('push_connections{transport="long-poll"}') < count:
            assert time.monotonic() < deadline, "the long-poll never reached the server"
            time.sleep(0.02)

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
    # The producer reads PUSH_URL and PUSH_PUBLISH_KEY, Token.sign PUSH_SECRET; tests set them explicitly.
    for name in ("PUSH_URL", "PUSH_PUBLISH_KEY", "PUSH_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    started: List[Server] = []

    def start(*flags: str) -> Server:
        server = Server(*flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    # History large enough to count every message of the biggest test.
    return start_server("--history-size", "10000")


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A socket that listens but never answers: connects succeed, responses never come."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


@pytest.fixture
def closed_url() -> str:
    """A port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


def first_id(server: Server, channel: str) -> str:
    """A cursor: the id of a marker message published first."""
    import push

    return push.Producer(server.url).publish("marker").to(channel)


def data_of(message: Dict[str, Any]) -> bytes:
    import base64

    if message.get("encoding") == "base64":
        return base64.b64decode(message["data"])
    return str(message["data"]).encode()

