"""The blocking API against a real push-server: the seed flow, payload kinds, defaults."""

from __future__ import annotations

import threading
import urllib.request
from typing import Callable, List, Optional, Tuple

import pytest

import push
from conftest import REPO, Server, data_of, first_id


def test_seed_flow_hi_there_releases_a_waiting_long_poll(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    received: List[bytes] = []

    def long_poll() -> None:
        with urllib.request.urlopen(server.url + "/greetings", timeout=20) as r:
            received.append(r.read())

    waiter = threading.Thread(target=long_poll)
    waiter.start()
    server.wait_for_long_polls(1)

    monkeypatch.setenv("PUSH_URL", server.url)
    message_id = push.Producer().publish("hi there!").to("/greetings")

    waiter.join(20)
    assert received == [b"hi there!"]
    assert isinstance(message_id, str) and message_id.isdigit()


def test_payload_kinds_and_content_types(server: Server) -> None:
    cursor = first_id(server, "/kinds")
    producer = push.Producer(server.url)
    sent: List[Tuple[push.Data, Optional[str], bytes, str]] = [
        ("text ✓", None, b"text \xe2\x9c\x93", "text/plain; charset=utf-8"),
        (b"\xff\x00\x01", None, b"\xff\x00\x01", "application/octet-stream"),
        (bytearray(b"array"), None, b"array", "text/plain; charset=utf-8"),
        (memoryview(b"--view--")[2:6], None, b"view", "text/plain; charset=utf-8"),
        ('{"a": 1}', "application/json", b'{"a": 1}', "application/json"),
        ("", None, b"", "text/plain; charset=utf-8"),
    ]
    ids = [producer.publish(data, content_type).to("/kinds") for data, content_type, _, _ in sent]
    messages = server.messages("/kinds", after=cursor)
    assert [m["id"] for m in messages] == ids
    assert [data_of(m) for m in messages] == [expected for _, _, expected, _ in sent]
    assert [m["content_type"] for m in messages] == [ct for _, _, _, ct in sent]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


def test_data_of_another_type_is_a_type_error(server: Server) -> None:
    with pytest.raises(TypeError, match="data must be str, bytes, bytearray or memoryview, not int"):
        push.Producer(server.url).publish(42)  # type: ignore[arg-type]


def test_a_publish_can_be_sent_to_several_channels(server: Server) -> None:
    publish = push.Producer(server.url).publish("fan")
    a, b = publish.to("/a"), publish.to("/b")
    assert int(b) > int(a)
    assert [m["data"] for m in server.messages("/b")] == ["fan"]


def test_url_defaults_to_push_url_then_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    assert push.Producer().url == "http://127.0.0.1:4000"
    monkeypatch.setenv("PUSH_URL", "http://example.test:1234")
    assert push.Producer().url == "http://example.test:1234"
    assert push.Producer("http://other:1").url == "http://other:1"
    assert repr(push.Producer("http://other:1")) == '<push.Producer url="http://other:1">'


def test_module_level_publish_uses_the_default_producer(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_URL", server.url)
    first = push.publish("one", to="/module")
    assert push.default_producer() is push.default_producer()
    assert push.default_producer().url == server.url
    second = push.publish(b"two", to="/module", content_type="text/x-two")
    messages = server.messages("/module")
    assert [(m["id"], m["data"]) for m in messages] == [(first, "one"), (second, "two")]
    assert messages[1]["content_type"] == "text/x-two"


def test_the_default_producer_is_remade_when_push_url_or_push_publish_key_change(
    start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = start_server(), start_server(publish_key="k")
    monkeypatch.setenv("PUSH_URL", a.url)
    to_a = push.publish("to A", to="/default")
    first = push.default_producer()
    monkeypatch.setenv("PUSH_URL", b.url)
    with pytest.raises(push.UnauthorizedError):  # B wants a key: the new URL is used, without one
        push.publish("to B, no key", to="/default")
    monkeypatch.setenv("PUSH_PUBLISH_KEY", "k")
    to_b = push.publish("to B", to="/default")
    assert push.default_producer() is not first and push.default_producer().url == b.url
    assert [(m["id"], m["data"]) for m in a.messages("/default")] == [(to_a, "to A")]
    assert [(m["id"], m["data"]) for m in b.messages("/default")] == [(to_b, "to B")]
    # Back to A (the key does not matter there): remade again.
    monkeypatch.setenv("PUSH_URL", a.url)
    again = push.publish("to A again", to="/default")
    assert [m["id"] for m in a.messages("/default")] == [to_a, again]


def test_close_default_forgets_the_default_producer(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_URL", server.url)
    before = push.default_producer()
    first = push.publish("one", to="/closed")
    push.close_default()
    push.close_default()  # nothing to close: fine
    assert push.default_producer() is not before
    second = push.publish("two", to="/closed")
    before.publish("three").to("/closed")  # the old one reconnects when used
    assert [m["data"] for m in server.messages("/closed")] == ["one", "two", "three"]
    assert int(second) > int(first)


def test_context_manager_closes_and_the_producer_reconnects(server: Server) -> None:
    with push.Producer(server.url) as producer:
        assert isinstance(producer, push.Producer)
        producer.publish("inside").to("/ctx")
    # Closed: the next publish opens new connections.
    producer.publish("after close").to("/ctx")
    producer.close()
    producer.close()
    assert [m["data"] for m in server.messages("/ctx")] == ["inside", "after close"]


def test_producer_can_be_subclassed(server: Server) -> None:
    class Mine(push.Producer):
        def shout(self, text: str, channel: str) -> str:
            return self.publish(text.upper()).to(channel)

    Mine(server.url).shout("hey", "/sub")
    assert [m["data"] for m in server.messages("/sub")] == ["HEY"]


def test_the_version_is_the_workspace_version() -> None:
    cargo = (REPO / "Cargo.toml").read_text()
    workspace_package = cargo.split("[workspace.package]", 1)[1]
    assert f'version = "{push.__version__}"' in workspace_package.split("\n[", 1)[0]
