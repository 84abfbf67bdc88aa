"""Presence reads (docs/PRESENCE.md) against a real in-process push.Server with --auth token and a
publish key: SSE subscribers of a presence channel whose tokens carry info, read with
Channel.presence(), Producer.presence() and their asyncio forms; a channel without the presence
prefix is refused. Waits on the presence read itself, never on time."""

from __future__ import annotations

import asyncio
import datetime
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import push
import push.aio
from conftest import Server, Sse, wait_until

KEY = "presence-key"
SECRET = "presence-secret"
LOBBY = "/presence-lobby"


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server(publish_key=KEY, auth="token", secret=SECRET)


@pytest.fixture
def producer(server: Server) -> push.Producer:
    return push.Producer(server.url, publish_key=KEY)


@pytest.fixture
def subscribe(server: Server) -> Iterator[Callable[..., Sse]]:
    """SSE subscribers of a channel as a consumer, with a token carrying `info`."""
    opened: List[Sse] = []

    def open_stream(channel: str, consumer: str, info: Optional[Dict[str, Any]] = None) -> Sse:
        token = push.Token.sign(channel, consumer=consumer, expires_in=600, secret=SECRET, info=info)
        stream = Sse(server, f"{channel}?{urllib.parse.urlencode({'consumer': consumer, 'token': token})}")
        opened.append(stream)
        assert stream.status == 200
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def test_a_member_is_listed_once_with_its_tokens_info(producer: push.Producer, subscribe: Callable[..., Sse], monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    lobby = producer.channel(LOBBY)
    subscribe(LOBBY, "alice", {"name": "Alice"})
    subscribe(LOBBY, "alice", {"name": "Alice"})  # a second tab: still one member
    subscribe(LOBBY, "bob")  # no info
    wait_until(lambda: lobby.presence().count == 2, "alice and bob to be present")

    presence = lobby.presence()
    assert isinstance(presence, push.Presence)
    assert (presence.channel, presence.count, presence.nodes) == (LOBBY, 2, 1)
    assert abs((presence.as_of - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 60
    assert presence.members == [push.Member("alice", {"name": "Alice"}), push.Member("bob", None)]
    assert isinstance(presence.members[0], push.Member)

    # The same through Producer.presence, push.channel (the default producer) and asyncio.
    assert producer.presence(LOBBY).members == presence.members
    monkeypatch.setenv("PUSH_URL", server.url)
    monkeypatch.setenv("PUSH_PUBLISH_KEY", KEY)
    assert push.channel(LOBBY).presence().members == presence.members

    async def main() -> List[push.Presence]:
        async with push.AsyncProducer(server.url, publish_key=KEY) as aproducer:
            return [
                await aproducer.channel(LOBBY).presence(),
                await aproducer.presence(LOBBY),
                await push.aio.channel(LOBBY).presence(),
                await producer.presence_async(LOBBY),
                await lobby.presence_async(),
            ]

    for each in asyncio.run(main()):
        assert each.members == presence.members


def test_a_channel_without_the_presence_prefix_is_refused(producer: push.Producer) -> None:
    with pytest.raises(push.BadRequestError) as caught:
        producer.channel("/lobby").presence()
    assert (caught.value.code, caught.value.status) == ("BAD_REQUEST", 400)
    with pytest.raises(push.BadRequestError):
        producer.presence("/rooms/presence-lobby")

    async def main() -> None:
        await push.AsyncProducer(producer=producer).channel("/lobby").presence()

    with pytest.raises(push.BadRequestError):
        asyncio.run(main())


def test_an_empty_presence_channel(producer: push.Producer) -> None:
    empty = producer.channel("/presence-nobody").presence()
    assert (empty.channel, empty.members, empty.count) == ("/presence-nobody", [], 0)


def test_the_publish_key_is_needed(server: Server) -> None:
    for p in [push.Producer(server.url), push.Producer(server.url, publish_key="wrong")]:
        with pytest.raises(push.UnauthorizedError) as caught:
            p.channel(LOBBY).presence()
        assert caught.value.status == 401


def test_bad_arguments_raise_before_any_request(closed_url: str) -> None:
    down = push.Producer(closed_url)
    with pytest.raises(push.InvalidChannelError):
        down.presence("presence-lobby")
    with pytest.raises(push.InvalidChannelError):
        down.channel("presence-lobby")
    with pytest.raises(TypeError):
        down.presence(None)  # type: ignore[arg-type]
    with pytest.raises(push.ConnectionFailedError):
        down.presence(LOBBY)
