"""Errors: the classes against sdk-core's table and docs/ERRORS.md, the same failures as every
SDK (the acceptance test of docs/ERRORS.md's failure table), and one case per other kind from its
real cause."""

from __future__ import annotations

import builtins
import http.server
import pickle
import re
import threading
import time
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

import push
from push import _errors
from push._push import _raise_internal, error_table
from conftest import REPO, Server

# Python's builtin mixins, as docs/ERRORS.md names them.
MIXINS: Dict[str, type] = {
    "INVALID_CHANNEL": ValueError,
    "INVALID_CURSOR": ValueError,
    "PAYLOAD_TOO_LARGE": ValueError,
    "BAD_REQUEST": ValueError,
    "INVALID_CONFIG": ValueError,
    "CONNECTION_FAILED": builtins.ConnectionError,
    "TIMEOUT": builtins.TimeoutError,
}


def test_every_native_row_has_its_class() -> None:
    rows = error_table()
    assert len(rows) >= 13 and len({r["code"] for r in rows}) == len(rows)
    for row in rows:
        cls = getattr(push, row["class_name"])
        assert cls.__module__ == "push._errors" and row["class_name"] in push.__all__
        mixin = MIXINS.get(row["code"])
        assert cls.__bases__ == ((push.PushError, mixin) if mixin else (push.PushError,)), row
        assert (cls.code, cls.retryable, cls.maybe_stored) == (row["code"], row["retryable"], row["maybe_stored"])
        error = cls("made here")
        assert (error.code, error.retryable, error.maybe_stored, error.status) == (
            row["code"], row["retryable"], row["maybe_stored"], None
        )
        assert isinstance(error, push.PushError) and str(error) == "made here"
    # Every class of the module is a row: no extra ones, none left from older names.
    classes = {name for name, value in vars(_errors).items() if isinstance(value, type) and issubclass(value, push.PushError)}
    assert classes == {row["class_name"] for row in rows} | {"PushError"}
    assert classes <= set(push.__all__)


def test_the_base_class() -> None:
    error = push.PushError()
    assert (error.code, error.status, error.retryable, error.maybe_stored) == ("PUSH_ERROR", None, False, False)
    # A code the Python layer has no class for (a newer native library) keeps its native values.
    newer = push.PushError("something new", "SOMETHING_NEW", 599, True, True)
    assert (newer.code, newer.status, newer.message, newer.retryable, newer.maybe_stored) == (
        "SOMETHING_NEW", 599, "something new", True, True
    )


def doc_table() -> List[Tuple[str, str, bool, bool]]:
    """(code, class, retryable, may have stored) of each row of docs/ERRORS.md's table."""
    doc = (REPO / "docs" / "ERRORS.md").read_text()
    table = doc.split("<!-- table:begin -->", 1)[1].split("<!-- table:end -->", 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:  # after the header and the |---| line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        code, class_name = cells[0].strip("`"), cells[1].strip("`")
        rows.append((code, class_name, cells[3] == "yes", cells[4] == "yes"))
    return rows


def test_docs_errors_md_shows_the_native_table() -> None:
    native = [(r["code"], r["class_name"], r["retryable"], r["maybe_stored"]) for r in error_table()]
    assert doc_table() == native


def doc_failures() -> Dict[str, Tuple[str, ...]]:
    """docs/ERRORS.md's failure table: failure -> (Ruby, Python, Node class, may have stored)."""
    doc = (REPO / "docs" / "ERRORS.md").read_text()
    lines = doc.split("| failure | Ruby | Python | Node | may have stored |", 1)[1].strip().splitlines()[1:]
    return {cells[0]: tuple(c.strip("`") for c in cells[1:]) for cells in
            ([c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|"))}


@pytest.fixture
def failures(start_server: Callable[..., Server], closed_url: str, silent_url: str) -> Dict[str, Callable[[], str]]:
    """The same failures every SDK's acceptance test makes, by their name in docs/ERRORS.md."""
    keyed = start_server(publish_key="s3cret")
    small = start_server(max_payload_bytes=16)
    return {
        "server down": lambda: push.Producer(closed_url).publish("x").to("/c"),
        "bad publish key": lambda: push.Producer(keyed.url, publish_key="wrong").publish("x").to("/c"),
        "bad channel name": lambda: push.Producer(small.url).publish("x").to("no-slash"),
        "payload too large": lambda: push.Producer(small.url).publish("x" * 17).to("/c"),
        "no answer in time": lambda: push.Producer(silent_url, timeout=0.3).publish("x").to("/c"),
        "unreadable CA file": lambda: push.Producer(closed_url.replace("http:", "https:"), ca_file="/nonexistent/ca.pem").publish("x").to("/c"),
    }


def test_the_same_failures_raise_the_documented_classes(failures: Dict[str, Callable[[], str]]) -> None:
    rows = {r["class_name"]: r for r in error_table()}
    documented = doc_failures()
    assert set(documented) == set(failures)
    for failure, publish in failures.items():
        name = documented[failure][1]
        assert name.startswith("push.")
        cls = getattr(push, name[len("push."):])
        with pytest.raises(push.PushError) as caught:
            publish()
        error, row = caught.value, rows[cls.__name__]
        assert type(error) is cls, failure
        # maybe_stored: what happened, where known (a refused connection sent nothing).
        maybe_stored = documented[failure][3] == "yes"
        assert (error.code, error.retryable, error.maybe_stored) == (row["code"], row["retryable"], maybe_stored), failure


def test_invalid_channel(server: Server) -> None:
    producer = push.Producer(server.url)
    for bad in ["no-slash", "/a//b", "/a/../b", "/_push/health", "/sp ace"]:
        with pytest.raises(push.InvalidChannelError) as caught:
            producer.publish("x").to(bad)
        assert caught.value.code == "INVALID_CHANNEL"
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, push.PushError)
        assert not caught.value.retryable and not caught.value.maybe_stored
    with pytest.raises(push.InvalidChannelError, match="must start with '/'"):
        producer.publish("x").to("nope")


def test_server_down_is_a_connection_failure(closed_url: str) -> None:
    with pytest.raises(ConnectionError) as caught:  # the builtin catches it too
        push.Producer(closed_url).publish("x").to("/c")
    error = caught.value
    assert isinstance(error, push.ConnectionFailedError)
    assert error.code == "CONNECTION_FAILED" and error.retryable and error.status is None
    assert closed_url in str(error)


def test_wrong_or_missing_publish_key_is_unauthorized(start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(publish_key="s3cret")
    for producer in [push.Producer(server.url), push.Producer(server.url, publish_key="wrong")]:
        with pytest.raises(push.UnauthorizedError) as caught:
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
    with pytest.raises(push.PayloadTooLargeError) as caught:
        producer.publish(b"x" * 1025).to("/big")
    assert caught.value.code == "PAYLOAD_TOO_LARGE" and caught.value.status == 413
    assert isinstance(caught.value, ValueError)


def test_timeout_against_a_socket_that_never_answers(silent_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:  # push.TimeoutError, and the builtin catches it
        push.Producer(silent_url, timeout=0.5).publish("x").to("/c")
    assert 0.4 < time.monotonic() - started < 5
    error = caught.value
    assert isinstance(error, push.TimeoutError) and isinstance(error, builtins.TimeoutError)
    assert not isinstance(error, push.ConnectionFailedError), "a timeout is not a connection failure"
    assert error.code == "TIMEOUT" and error.retryable and error.maybe_stored


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
        lambda: push.Producer(timeout=float("inf")),
    ]
    for make in makers:
        with pytest.raises(push.InvalidConfigError) as caught:
            make()
        assert caught.value.code == "INVALID_CONFIG" and isinstance(caught.value, ValueError)
    with pytest.raises(push.InvalidConfigError, match="positive number of seconds"):
        push.Producer(timeout=0)


def test_a_panic_in_the_native_code_is_an_internal_error() -> None:
    with pytest.raises(push.InternalError, match=r"internal error in push-rs \(please report it\): boom") as caught:
        _raise_internal("boom")
    error = caught.value
    assert (error.code, error.retryable, error.maybe_stored) == ("INTERNAL", False, True)


def test_errors_pickle_with_their_code_status_and_flags(closed_url: str) -> None:
    with pytest.raises(push.PushError) as caught:
        push.Producer(closed_url).publish("x").to("/c")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is push.ConnectionFailedError
    # A refused connection sent nothing: maybe_stored is False, and the copy keeps it.
    assert (str(copy), copy.code, copy.status, copy.retryable, copy.maybe_stored) == (
        str(caught.value), "CONNECTION_FAILED", None, True, False
    )
    assert re.fullmatch(r"ConnectionFailedError\('.*', code='CONNECTION_FAILED', status=None\)", repr(copy))
