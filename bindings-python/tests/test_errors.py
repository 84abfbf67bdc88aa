"""One case per error kind, each from its real cause."""

from __future__ import annotations

import builtins
import http.server
import pickle
import threading
import time
from typing import Callable, Iterator, List

import pytest

import push
from conftest import Server


def test_invalid_channel(server: Server) -> None:
    producer = push.Producer(server.url)
    for bad in ["no-slash", "/a//b", "/a/../b", "/_push/health", "/sp ace"]:
        with pytest.raises(push.InvalidChannel) as caught:
            producer.publish("x").to(bad)
        assert caught.value.code == "INVALID_CHANNEL"
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, push.PushError)
        assert not caught.value.retryable
    assert "must start with '/'" in str(pytest.raises(push.InvalidChannel, producer.publish("x").to, "nope").value)


def test_server_down_is_a_connection_error(closed_url: str) -> None:
    with pytest.raises(push.ConnectionError) as caught:
        push.Producer(closed_url).publish("x").to("/c")
    error = caught.value
    assert isinstance(error, builtins.ConnectionError) and isinstance(error, push.PushError)
    assert error.code == "CONNECTION_FAILED" and error.retryable and error.status is None
    assert closed_url in str(error)


def test_wrong_or_missing_publish_key_is_unauthorized(start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(publish_key="s3cret")
    for producer in [push.Producer(server.url), push.Producer(server.url, publish_key="wrong")]:
        with pytest.raises(push.Unauthorized) as caught:
            producer.publish("x").to("/private")
        assert caught.value.code == "UNAUTHORIZED" and caught.value.status == 401
    push.Producer(server.url, publish_key="s3cret").publish("ok").to("/private")
    monkeypatch.setenv("PUSH_PUBLISH_KEY", "s3cret")
    push.Producer(server.url).publish("ok from env").to("/private")
    assert [m["data"] for m in server.messages("/private")] == ["ok", "ok from env"]


def test_oversized_payload(start_server: Callable[..., Server]) -> None:
    server = start_server(max_payload_bytes=1024)
    producer = push.Producer(server.url)
    producer.publish(b"x" * 1024).to("/big")
    with pytest.raises(push.PayloadTooLarge) as caught:
        producer.publish(b"x" * 1025).to("/big")
    assert caught.value.code == "PAYLOAD_TOO_LARGE" and caught.value.status == 413
    assert isinstance(caught.value, ValueError)


def test_timeout_against_a_socket_that_never_answers(silent_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(push.Timeout) as caught:
        push.Producer(silent_url, timeout=0.5).publish("x").to("/c")
    assert 0.4 < time.monotonic() - started < 5
    assert isinstance(caught.value, builtins.TimeoutError) and caught.value.code == "TIMEOUT"
    assert caught.value.retryable


@pytest.fixture
def failing_upstream() -> Iterator[str]:
    """A plain HTTP server (say, a broken proxy in front of push) that answers 502."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(502)
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b"bad gateway")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_server_error(failing_upstream: str) -> None:
    with pytest.raises(push.ServerError) as caught:
        push.Producer(failing_upstream).publish("x").to("/c")
    assert caught.value.code == "SERVER_ERROR" and caught.value.status == 502
    assert "bad gateway" in str(caught.value)


def test_invalid_config() -> None:
    makers: List[Callable[[], object]] = [
        lambda: push.Producer("ftp://example.test"),
        lambda: push.Producer("localhost:4000"),
        lambda: push.Producer(timeout=-1),
        lambda: push.Producer(timeout=0),
        lambda: push.Producer(timeout=float("nan")),
    ]
    for make in makers:
        with pytest.raises(push.InvalidConfig) as caught:
            make()
        assert caught.value.code == "INVALID_CONFIG" and isinstance(caught.value, ValueError)


def test_errors_pickle_with_their_code_and_status(closed_url: str) -> None:
    with pytest.raises(push.PushError) as caught:
        push.Producer(closed_url).publish("x").to("/c")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is push.ConnectionError
    assert (str(copy), copy.code, copy.status) == (str(caught.value), "CONNECTION_FAILED", None)


def test_the_exception_hierarchy() -> None:
    for name in ["InvalidChannel", "InvalidCursor", "InvalidConfig", "PayloadTooLarge", "BadRequest",
                 "Unauthorized", "Forbidden", "ConnectionError", "Timeout", "ServerError", "TooManyConnections"]:
        cls = getattr(push, name)
        assert issubclass(cls, push.PushError) and cls.code.isupper()
    assert issubclass(push.Timeout, TimeoutError)
    assert issubclass(push.ConnectionError, builtins.ConnectionError)
    error = push.PushError("something new", "SOMETHING_NEW", 599)
    assert (error.code, error.status, error.message, error.retryable) == ("SOMETHING_NEW", 599, "something new", False)
