"""push.subscribe_url (issue 31): the base URL's precedence (url= > PUSH_PUBLIC_URL > PUSH_URL >
the default) and checks, the query's order and percent-encoding, every refusal, and the token it
carries working for exactly its channel and consumer against a real push.Server started with
--auth token --secret."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any, Callable, Dict, List

import pytest

import push
from conftest import Server, Sse, wait_until

SECRET = "url-secret"


def query_of(url: str) -> List[tuple[str, str]]:
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)


def test_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    def url() -> str:
        return push.subscribe_url("/rooms/1", token=False)

    assert url() == "http://127.0.0.1:4000/rooms/1"
    monkeypatch.setenv("PUSH_URL", "http://push.internal:4000")
    assert url() == "http://push.internal:4000/rooms/1"
    monkeypatch.setenv("PUSH_PUBLIC_URL", "https://push.example.com/")
    assert url() == "https://push.example.com/rooms/1"
    assert push.subscribe_url("/rooms/1", token=False, url="https://other.example.com//") == "https://other.example.com/rooms/1"
    # Values are trimmed; a blank one counts as none (as the core reads PUSH_URL).
    assert push.subscribe_url("/rooms/1", token=False, url="") == "https://push.example.com/rooms/1"
    assert push.subscribe_url("/rooms/1", token=False, url=" \t") == "https://push.example.com/rooms/1"
    assert push.subscribe_url("/rooms/1", token=False, url=" http://x.test/ \n") == "http://x.test/rooms/1"
    monkeypatch.setenv("PUSH_PUBLIC_URL", " ")
    assert url() == "http://push.internal:4000/rooms/1"
    monkeypatch.setenv("PUSH_URL", "")
    assert url() == "http://127.0.0.1:4000/rooms/1"
    monkeypatch.setenv("PUSH_URL", "http://push.internal:4000")
    # A path is kept (a server behind a prefix); the scheme is case-insensitive.
    assert push.subscribe_url("/rooms/1", token=False, url="HTTPS://example.com/push/") == "HTTPS://example.com/push/rooms/1"


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("url=", "amqp://guest@rabbit:5672"),
        ("url=", "push.example.com"),
        ("url=", "https://push.example.com/?x=1"),
        ("url=", "https://push.example.com/#top"),
        ("url=", "http:// spaced"),
        ("PUSH_PUBLIC_URL", "ws://push.example.com"),
        ("PUSH_URL", "amqps://rabbit"),
    ],
)
def test_base_url_must_be_http(where: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "url=":
        call: Callable[[], str] = lambda: push.subscribe_url("/rooms/1", token=False, url=value)
    else:
        monkeypatch.setenv(where, value)
        call = lambda: push.subscribe_url("/rooms/1", token=False)
    with pytest.raises(push.InvalidConfigError) as raised:
        call()
    assert str(raised.value) == (
        f"the subscribe URL's base ({where} {value!r}) is not an http:// or https:// URL without query: "
        "browsers subscribe over HTTP (set PUSH_PUBLIC_URL to the address browsers use, or pass url=)"
    )
    assert raised.value.code == "INVALID_CONFIG"


def test_query_order_and_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "http://p.test"
    assert push.subscribe_url("/rooms/1", token=False, url=base, gap="turbo-refresh", consumer="alice") == f"{base}/rooms/1?gap=turbo-refresh&consumer=alice"
    assert push.subscribe_url("/rooms/1", token=False, url=base, gap="event") == f"{base}/rooms/1?gap=event"
    # All but A-Z a-z 0-9 - . _ ~ percent-encoded (UTF-8 bytes), as in every SDK.
    assert push.subscribe_url("/a-b/c_d", token=False, url=base, consumer="Al ice&b=c/d+é~.-_") == (
        f"{base}/a-b/c_d?consumer=Al%20ice%26b%3Dc%2Fd%2B%C3%A9~.-_"
    )
    # Channel characters are the path as is.
    assert push.subscribe_url("/r:1/@x~y", token=False, url=base) == f"{base}/r:1/@x~y"

    url = push.subscribe_url("/rooms/1", url=base, gap="turbo-refresh", consumer="a b", secret=SECRET)
    assert [name for name, _ in query_of(url)] == ["gap", "consumer", "token"]
    assert url.startswith(f"{base}/rooms/1?gap=turbo-refresh&consumer=a%20b&token=push1.")

    # The token's secret: secret=, else PUSH_SECRET.
    monkeypatch.setenv("PUSH_SECRET", SECRET)
    assert dict(query_of(push.subscribe_url("/rooms/1")))["token"].startswith("push1.")


def test_token_is_the_one_token_sign_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    # Signed by the core for exactly that channel, consumer and expiry: equal to Token.sign at the
    # same second (retried if the clock ticked between the two).
    for _ in range(5):
        before = int(time.time())
        url = push.subscribe_url("/rooms/9", consumer="bob", expires_in=120, secret=SECRET)
        token = push.Token.sign("/rooms/9", consumer="bob", expires_in=120, secret=SECRET)
        if int(time.time()) == before:
            break
    assert dict(query_of(url))["token"] == token


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"channel": "rooms"}, push.InvalidChannelError, "channel name \"rooms\" must start with '/'"),
        ({"channel": "/rooms/"}, push.InvalidChannelError, "has an empty segment"),
        ({"channel": "/a b", "token": False}, push.InvalidChannelError, "has the character ' '"),
        ({"channel": "/_push/metrics", "token": False}, push.InvalidChannelError, "is reserved"),
        ({"channel": ""}, push.InvalidChannelError, "channel name is empty"),
        ({"token": True}, push.InvalidConfigError, "subscribe_url signs a subscriber token for /rooms/1 and needs the server's secret: set PUSH_SECRET (or pass secret=), or pass token=False for a server without --auth token"),
        ({"secret": ""}, push.InvalidConfigError, "subscribe_url signs a subscriber token for /rooms/1 and needs the server's secret"),
        ({"secret": b""}, push.InvalidConfigError, "subscribe_url signs a subscriber token"),
        ({"secret": "s", "expires_in": -1}, push.InvalidConfigError, "expires_in must be a number of seconds, 0 or more"),
        ({"consumer": "", "token": False}, push.InvalidConfigError, "the consumer id is empty"),
        ({"consumer": "a\nb", "secret": "s"}, push.InvalidConfigError, "the consumer id has a line break"),
        ({"gap": "refresh", "token": False}, ValueError, "gap='refresh' is not a way to announce a gap: use 'event' (the server's default) or 'turbo-refresh' (or None)"),
        ({"token": False, "secret": "s"}, ValueError, "secret= and expires_in= sign the token; with token=False there is none"),
        ({"token": False, "expires_in": 60}, ValueError, "secret= and expires_in= sign the token"),
        ({"token": "yes"}, TypeError, "token must be True or False, not 'yes'"),
        ({"token": None}, TypeError, "token must be True or False, not None"),
        ({"consumer": 7, "token": False}, TypeError, "consumer must be a str, not int"),
        ({"url": b"http://x", "token": False}, TypeError, "url must be a str, not bytes"),
        ({"channel": None}, TypeError, "the channel must be a str such as '/rooms/1', not NoneType"),
    ],
)
def test_refusals(kwargs: Dict[str, Any], error: type, message: str) -> None:
    kwargs = dict(kwargs)
    channel = kwargs.pop("channel", "/rooms/1")
    with pytest.raises(error) as raised:
        push.subscribe_url(channel, **kwargs)
    assert message in str(raised.value)
    assert type(raised.value) is error  # a ValueError of the helper is not a PushError


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server(publish_key="k", auth="token", secret=SECRET)


def status(server: Server, url: str) -> int:
    """The status an EventSource on `url` gets from the server."""
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == server.url
    stream = Sse(server, f"{parts.path}?{parts.query}" if parts.query else parts.path)
    try:
        return stream.status
    finally:
        stream.close()


def with_query(url: str, **changes: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update(changes)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def test_token_works_for_exactly_its_channel_and_consumer(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_PUBLIC_URL", server.url)
    monkeypatch.setenv("PUSH_SECRET", SECRET)

    room = push.subscribe_url("/rooms/1")
    assert status(server, room) == 200
    assert status(server, push.subscribe_url("/rooms/1", gap="turbo-refresh")) == 200
    # The same token on another channel: refused.
    other = room.replace("/rooms/1?", "/rooms/2?")
    assert status(server, other) == 403
    # No token, or one signed with another secret: refused.
    assert status(server, push.subscribe_url("/rooms/1", token=False)) == 401
    assert status(server, push.subscribe_url("/rooms/1", secret="another")) == 401

    alice = push.subscribe_url("/rooms/1", consumer="alice smith")
    assert status(server, alice) == 200
    assert status(server, with_query(alice, consumer="bob")) == 403
    assert status(server, with_query(alice, consumer="")) in (400, 403)  # a consumer's token, no consumer
    assert status(server, alice.replace("/rooms/1?", "/rooms/3?")) == 403

    # An expired token (expires_in=0 expires at once).
    expired = push.subscribe_url("/rooms/1", expires_in=0)
    wait_until(lambda: status(server, expired) == 401, "the token to expire (one-second resolution)", timeout=5)
