"""The server API (docs/PROTOCOL.md, "Server API") against a real in-process push.Server with a
publish key: channel info counting a real subscriber, the channel listing page by page, history
(last, after, gaps), one message to many channels reaching a multiplexed subscriber once,
disconnect ending an SSE stream and a ban refusing the next subscription, and the errors. Each
call sync and asyncio."""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Tuple

import pytest

import push
import push.aio
from conftest import Server, Silent, Sse, wait_until

KEY = "k3y"
UTC = datetime.timezone.utc


@pytest.fixture
def keyed(start_server: Callable[..., Server]) -> Server:
    # Waiting requests stay open for the tests' whole length.
    return start_server(publish_key=KEY, history_size=100, long_poll_timeout="60s")


@pytest.fixture
def producer(keyed: Server) -> push.Producer:
    return push.Producer(keyed.url, publish_key=KEY)


@pytest.fixture
def default_env(keyed: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """push.publish, push.channel, ... and push.aio's use this server."""
    monkeypatch.setenv("PUSH_URL", keyed.url)
    monkeypatch.setenv("PUSH_PUBLISH_KEY", KEY)


def near_now(when: datetime.datetime, seconds: float = 60) -> bool:
    return when.tzinfo is not None and abs((when - datetime.datetime.now(UTC)).total_seconds()) < seconds


async def wait_async(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)  # the poll interval, not a synchronisation


@pytest.fixture
def sse(keyed: Server) -> Iterator[Callable[[str], Sse]]:
    opened: List[Sse] = []

    def open_stream(path: str) -> Sse:
        stream = Sse(keyed, path)
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def subscribe_status(server: Server, path: str) -> Tuple[int, str]:
    """A JSON batch that answers at once: its status and Push-Error code."""
    request = urllib.request.Request(f"{server.url}{path}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, ""
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Push-Error", "")


class Waiting(threading.Thread):
    """A JSON batch (or long-poll) request that waits on the server, in a thread."""

    def __init__(self, url: str, accept: str = "application/json") -> None:
        super().__init__(daemon=True)
        self.request = urllib.request.Request(url, headers={"Accept": accept})
        self.body: bytes = b""
        self.start()

    def run(self) -> None:
        with urllib.request.urlopen(self.request, timeout=60) as r:
            self.body = r.read()

    def json(self) -> Dict[str, Any]:
        self.join(30)
        assert not self.is_alive(), "the waiting request was never answered"
        answer: Dict[str, Any] = json.loads(self.body)
        return answer


# ---- channel info


def test_channel_info_counts_a_real_subscriber(keyed: Server, producer: push.Producer, sse: Callable[[str], Sse]) -> None:
    room = producer.channel("/rooms/1")
    assert (room.name, repr(room)) == ("/rooms/1", "<push.Channel /rooms/1>")
    empty = room.info()
    assert isinstance(empty, push.ChannelInfo)
    assert (empty.channel, empty.connections, empty.consumers, empty.last_id, empty.history, empty.nodes) == ("/rooms/1", 0, 0, None, 0, 1)
    assert near_now(empty.as_of)

    message_id = producer.publish("hello").to("/rooms/1")
    alice = sse("/rooms/1?consumer=alice")
    assert alice.status == 200
    wait_until(lambda: room.info().connections == 1, "the SSE stream to count")
    info = room.info()
    assert (info.connections, info.consumers, info.last_id, info.history) == (1, 1, message_id, 1)
    anonymous = sse("/rooms/1")
    wait_until(lambda: room.info().connections == 2, "a second stream to count")
    assert room.info().consumers == 1, "a connection without a consumer id is no consumer"

    alice.close()
    anonymous.close()
    wait_until(lambda: room.info().connections == 0, "the closed streams to stop counting")


def test_module_channel_info_uses_the_default_producer(keyed: Server, default_env: None) -> None:
    message_id = push.publish("x", to="/rooms/m")
    info = push.channel("/rooms/m").info()
    assert (info.last_id, info.history) == (message_id, 1)
    assert push.channel("/rooms/m") == push.default_producer().channel("/rooms/m")


def test_channel_info_async_counts_a_waiting_long_poll(keyed: Server, producer: push.Producer, default_env: None) -> None:
    poll = Waiting(f"{keyed.url}/rooms/2?consumer=bob", accept="*/*")

    async def main() -> Tuple[push.ChannelInfo, push.ChannelInfo]:
        async with push.AsyncProducer(keyed.url, publish_key=KEY) as aproducer:
            room = aproducer.channel("/rooms/2")
            assert room.name == "/rooms/2"

            async def counted() -> bool:
                return (await room.info()).connections == 1

            await wait_async(counted, "the long-poll to count")
            info = await room.info()
            also = await push.aio.channel("/rooms/2").info()
            on_the_producer = await producer.channel("/rooms/2").info_async()
            assert on_the_producer.connections == 1
            return info, also

    info, also = asyncio.run(main())
    assert (info.connections, info.consumers, info.last_id) == (1, 1, None)
    assert also.connections == 1
    message_id = producer.publish("release").to("/rooms/2")
    poll.join(30)
    assert poll.body == b"release"
    assert producer.channel("/rooms/2").info().last_id == message_id


# ---- active channels


def test_channels_page_by_page_with_a_prefix(producer: push.Producer, default_env: None) -> None:
    ids = {name: producer.publish(name).to(name) for name in ["/rooms/c", "/rooms/a", "/other/x", "/rooms/b"]}

    first = producer.channels("/rooms/", limit=2)
    assert isinstance(first, push.ChannelPage)
    assert [c.channel for c in first.channels] == ["/rooms/a", "/rooms/b"]
    assert (first.next, first.nodes) == ("/rooms/b", 1) and near_now(first.as_of)
    entry = first.channels[0]
    assert (entry.last_id, entry.history, entry.connections, entry.nodes, entry.as_of) == (ids["/rooms/a"], 1, 0, 1, first.as_of)
    second = producer.channels("/rooms/", after=first.next, limit=2)
    assert ([c.channel for c in second.channels], second.next) == (["/rooms/c"], None)

    everything = producer.channels()
    assert [c.channel for c in everything.channels] == ["/other/x", "/rooms/a", "/rooms/b", "/rooms/c"]
    assert everything.next is None
    assert [c.channel for c in producer.iter_channels("/rooms/", limit=1)] == ["/rooms/a", "/rooms/b", "/rooms/c"]
    assert [c.channel for c in push.iter_channels(limit=3)] == ["/other/x", "/rooms/a", "/rooms/b", "/rooms/c"]
    assert [c.channel for c in push.channels("/other/").channels] == ["/other/x"]
    assert push.channels("/none/").channels == []


def test_channels_async(producer: push.Producer, keyed: Server, default_env: None) -> None:
    for name in ["/a/1", "/a/2", "/a/3", "/b/1"]:
        producer.publish("x").to(name)

    async def main() -> None:
        async with push.AsyncProducer(keyed.url, publish_key=KEY) as aproducer:
            page = await aproducer.channels("/a/", limit=2)
            assert ([c.channel for c in page.channels], page.next) == (["/a/1", "/a/2"], "/a/2")
            rest = await aproducer.channels("/a/", after=page.next)
            assert ([c.channel for c in rest.channels], rest.next) == (["/a/3"], None)
            assert [c.channel async for c in aproducer.iter_channels("/a/", limit=1)] == ["/a/1", "/a/2", "/a/3"]
        assert [c.channel async for c in push.aio.iter_channels()] == ["/a/1", "/a/2", "/a/3", "/b/1"]
        assert [c.channel for c in (await push.aio.channels("/b/")).channels] == ["/b/1"]
        assert (await producer.channels_async("/b/")).channels[0].history == 1

    asyncio.run(main())


# ---- history


def test_history_last_after_and_gaps(start_server: Callable[..., Server]) -> None:
    server = start_server(publish_key=KEY, history_size=2)
    producer = push.Producer(server.url, publish_key=KEY)
    ids = [producer.publish(f"m{i}").to("/h") for i in range(3)]
    ids.append(producer.publish(b"\x00\x9f\x92\x96").to("/h"))
    h = producer.channel("/h")

    held = h.history()
    assert isinstance(held, push.History)
    assert [m.id for m in held.messages] == ids[2:]
    assert (held.gaps, held.last_id, held.more) == ([], ids[3], False)
    text, binary = held.messages
    assert isinstance(text, push.HistoryMessage)
    assert (text.channel, text.channels, text.data, text.text, text.content_type) == ("/h", [], b"m2", "m2", "text/plain; charset=utf-8")
    assert near_now(text.time)
    assert (binary.data, binary.content_type) == (b"\x00\x9f\x92\x96", "application/octet-stream")
    with pytest.raises(UnicodeDecodeError):
        binary.text

    last = h.history(last=1)
    assert ([m.id for m in last.messages], last.last_id) == ([ids[3]], ids[3])

    # After the first: what history no longer holds is a gap, then the rest.
    after = h.history(after=ids[0])
    [gap] = after.gaps
    assert isinstance(gap, push.Gap)
    assert (gap.channel, gap.to) == ("/h", ids[1])
    assert int(ids[0]) < int(gap.from_) <= int(gap.to)
    assert ([m.id for m in after.messages], after.last_id, after.more) == (ids[2:], ids[3], False)
    assert h.history(after=int(ids[0])) == after, "an int cursor is the same cursor"

    # Paging with a limit.
    page = h.history(after=ids[2], limit=1)
    assert ([m.id for m in page.messages], page.last_id, page.more) == ([ids[3]], ids[3], False)
    page = h.history(after=ids[1], limit=1)
    assert ([m.id for m in page.messages], page.more) == ([ids[2]], True)
    page = h.history(after=page.last_id, limit=1)
    assert ([m.id for m in page.messages], page.more) == ([ids[3]], False)
    caught_up = h.history(after=ids[3])
    assert (caught_up.messages, caught_up.gaps, caught_up.last_id, caught_up.more) == ([], [], ids[3], False)
    assert producer.channel("/never").history().messages == []


def test_history_async(start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(publish_key=KEY, history_size=2)
    monkeypatch.setenv("PUSH_URL", server.url)
    monkeypatch.setenv("PUSH_PUBLISH_KEY", KEY)
    producer = push.Producer(server.url, publish_key=KEY)
    ids = [producer.publish(f"m{i}").to("/ha") for i in range(3)]

    async def main() -> None:
        async with push.AsyncProducer(server.url, publish_key=KEY) as aproducer:
            h = aproducer.channel("/ha")
            assert [m.text for m in (await h.history()).messages] == ["m1", "m2"]
            assert [m.id for m in (await h.history(last=1)).messages] == [ids[2]]
            after = await h.history(after=ids[0], limit=1)
            assert ([m.id for m in after.messages], after.more, after.gaps) == ([ids[1]], True, [])
        gapped = await push.aio.channel("/ha").history(after="0")
        assert [(g.channel, g.to) for g in gapped.gaps] == [("/ha", ids[0])]
        assert [m.id for m in (await producer.channel("/ha").history_async(last=2)).messages] == ids[1:]

    asyncio.run(main())


# ---- one message to many channels


def test_publish_to_many_reaches_a_multiplexed_subscriber_once(keyed: Server, producer: push.Producer, default_env: None) -> None:
    cursor = producer.publish("before").to("/a")
    batch = Waiting(f"{keyed.url}/_push/subscribe?channel=/a&channel=/b&after={cursor}")
    wait_until(lambda: producer.channel("/a").info().connections == 1 and producer.channel("/b").info().connections == 1, "the batch to wait on both")

    message_id = producer.publish("to both").to("/a", "/b")
    [message] = batch.json()["messages"]
    assert (message["id"], message["channel"], message["channels"], message["data"]) == (message_id, "/a", ["/a", "/b"], "to both")
    again = Waiting(f"{keyed.url}/_push/subscribe?channel=/a&channel=/b&after={message_id}&timeout=0").json()
    assert again["messages"] == [], "delivered once"

    # One place in each channel's history; a read of one channel names only that one.
    for name in ["/a", "/b"]:
        [held] = producer.channel(name).history(after=cursor).messages
        assert (held.id, held.channel, held.channels, held.text) == (message_id, name, [name], "to both")

    # A list, duplicates dropped; the module's publish.
    listed = producer.publish("list").to(["/a", "/b", "/a"])
    module = push.publish("module", to=["/b", "/a"])
    assert int(message_id) < int(listed) < int(module)
    assert [m.id for m in producer.channel("/a").history(after=message_id).messages] == [listed, module]
    assert producer.channel("/b").history(last=1).messages[0].channels == ["/b"]
    # The idempotency key covers the channels: a retry stores once.
    keyed_once = producer.publish("k", idempotency_key="order-1").to("/k/a", "/k/b")
    assert producer.publish("k", idempotency_key="order-1").to(["/k/a", "/k/b"]) == keyed_once


def test_publish_to_many_async(keyed: Server, producer: push.Producer, default_env: None) -> None:
    cursor = producer.publish("before").to("/x")
    batch = Waiting(f"{keyed.url}/_push/subscribe?channel=/x&channel=/y&after={cursor}")

    async def main() -> List[str]:
        async with push.AsyncProducer(keyed.url, publish_key=KEY) as aproducer:

            async def waiting() -> bool:
                return (await aproducer.channel("/y").info()).connections == 1

            await wait_async(waiting, "the batch to wait")
            first = await aproducer.publish("both").to("/x", "/y")
            second = await aproducer.publish("listed").to(["/x", "/y"])
        third = await producer.publish("future").to_async("/x", ["/y"])
        fourth = await push.aio.publish("module", to=["/x", "/y"])
        return [first, second, third, fourth]

    ids = asyncio.run(main())
    [message] = batch.json()["messages"]
    assert (message["id"], message["channels"]) == (ids[0], ["/x", "/y"])
    for name in ["/x", "/y"]:
        assert [m.id for m in producer.channel(name).history(after=cursor).messages] == ids


# ---- disconnect and ban


def test_disconnect_ends_an_sse_stream_and_a_ban_refuses_the_next(keyed: Server, producer: push.Producer, sse: Callable[[str], Sse], default_env: None) -> None:
    carol = sse("/d?consumer=carol")
    assert carol.next_event() is not None  # the opening event (the start cursor)
    wait_until(lambda: producer.channel("/d").info().consumers == 1, "carol's stream to count")

    done = producer.disconnect("carol", reason="logged out")
    assert isinstance(done, push.Disconnected)
    assert (done.consumer, done.channel, done.disconnected, done.ban_until) == ("carol", None, 1, None)
    event = carol.next_event()
    assert event is not None and event.get("event") == "disconnect", event
    assert json.loads(event["data"]) == {"type": "disconnect", "reason": "logged out"}
    assert carol.next_event() is None, "the stream ends after the disconnect event"
    # No ban: carol may come back.
    assert subscribe_status(keyed, "/d?consumer=carol&timeout=0") == (200, "")

    dave = sse("/e?consumer=dave")
    wait_until(lambda: producer.channel("/e").info().connections == 1, "dave's stream to count")
    banned = producer.disconnect("dave", channel="/e", ban=60)
    assert (banned.channel, banned.disconnected) == ("/e", 1)
    assert banned.ban_until is not None and 55 < (banned.ban_until - datetime.datetime.now(UTC)).total_seconds() <= 61
    while dave.next_event() is not None:
        pass  # to the end of the stream
    assert subscribe_status(keyed, "/e?consumer=dave&timeout=0") == (403, "FORBIDDEN")
    assert Sse(keyed, "/e?consumer=dave").status == 403
    assert subscribe_status(keyed, "/other?consumer=dave&timeout=0") == (200, ""), "the ban covers /e only"

    # A timedelta, and the module's function: a ban with nothing to end.
    erin = push.disconnect("erin", ban=datetime.timedelta(minutes=2))
    assert (erin.disconnected, erin.channel) == (0, None)
    assert erin.ban_until is not None and 115 < (erin.ban_until - datetime.datetime.now(UTC)).total_seconds() <= 121
    assert subscribe_status(keyed, "/anything?consumer=erin&timeout=0") == (403, "FORBIDDEN")


def test_disconnect_async(keyed: Server, producer: push.Producer, sse: Callable[[str], Sse], default_env: None) -> None:
    frank = sse("/f?consumer=frank")
    wait_until(lambda: producer.channel("/f").info().connections == 1, "frank's stream to count")

    async def main() -> Tuple[push.Disconnected, push.Disconnected, push.Disconnected]:
        async with push.AsyncProducer(keyed.url, publish_key=KEY) as aproducer:
            done = await aproducer.disconnect("frank", reason="bye")
        banned = await push.aio.disconnect("gina", channel="/g", ban=30.5)
        nobody = await producer.disconnect_async("nobody")
        return done, banned, nobody

    done, banned, nobody = asyncio.run(main())
    assert (done.consumer, done.disconnected) == ("frank", 1)
    event = frank.next_event()
    while event is not None and event.get("event") != "disconnect":
        event = frank.next_event()
    assert event is not None and json.loads(event["data"])["reason"] == "bye"
    assert (banned.channel, banned.disconnected) == ("/g", 0)
    # Rounded up to whole seconds.
    assert banned.ban_until is not None and 25 < (banned.ban_until - datetime.datetime.now(UTC)).total_seconds() <= 32
    assert subscribe_status(keyed, "/g?consumer=gina&timeout=0") == (403, "FORBIDDEN")
    assert nobody.disconnected == 0


# ---- errors


def test_bad_arguments_raise_before_any_io(closed_url: str) -> None:
    # Nothing listens at closed_url: any request would be a ConnectionFailedError.
    producer = push.Producer(closed_url)
    with pytest.raises(push.InvalidChannelError):
        producer.channel("rooms")
    with pytest.raises(push.InvalidChannelError):
        producer.publish("x").to("/a", "bad")
    with pytest.raises(push.BadRequestError):
        producer.publish("x").to([f"/c{i}" for i in range(101)])
    with pytest.raises(push.BadRequestError):
        producer.publish("x").to()
    with pytest.raises(push.BadRequestError):
        producer.publish("x").to([])
    with pytest.raises(TypeError):
        producer.publish("x").to(b"/a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        producer.publish("x").to(["/a", 1])  # type: ignore[list-item]

    h = producer.channel("/h")
    for kwargs in [{"last": 0}, {"last": -1}, {"last": 1, "after": "5"}, {"limit": 5}, {"after": "5", "limit": 0}]:
        with pytest.raises(push.BadRequestError):
            h.history(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(push.InvalidCursorError):
        h.history(after="abc")
    with pytest.raises(push.InvalidCursorError):
        h.history(after=-1)

    with pytest.raises(push.BadRequestError):
        producer.channels("rooms")
    with pytest.raises(push.InvalidChannelError):
        producer.channels(after="nope")
    for limit in [0, 1001, -1]:
        with pytest.raises(push.BadRequestError):
            producer.channels(limit=limit)
    with pytest.raises(push.BadRequestError):
        next(producer.iter_channels("rooms"))

    with pytest.raises(push.BadRequestError):
        producer.disconnect("")
    with pytest.raises(push.BadRequestError):
        producer.disconnect("a", reason="r" * 201)
    with pytest.raises(push.InvalidChannelError):
        producer.disconnect("a", channel="bad")
    bans: List[push.Seconds] = [86_401, -1, float("nan"), datetime.timedelta(days=2)]
    for ban in bans:
        with pytest.raises(push.BadRequestError):
            producer.disconnect("a", ban=ban)
    with pytest.raises(TypeError):
        producer.disconnect("a", ban="10m")  # type: ignore[arg-type]

    # Valid arguments do reach for the (absent) server.
    with pytest.raises(push.ConnectionFailedError):
        producer.channel("/h").history(last=1)


def test_the_server_api_needs_a_push_server_url() -> None:
    rabbit = push.Producer("amqp://guest:secret@127.0.0.1:9/%2f")
    with pytest.raises(push.InvalidConfigError, match="http") as e:
        rabbit.channel("/a").info()
    assert "secret" not in str(e.value)
    with pytest.raises(push.InvalidConfigError):
        rabbit.disconnect("a")


def test_server_answers_become_the_same_classes(keyed: Server, producer: push.Producer) -> None:
    wrong = push.Producer(keyed.url, publish_key="wrong")
    calls: List[Callable[[], object]] = [
        lambda: wrong.channel("/a").info(),
        lambda: wrong.channels(),
        lambda: wrong.channel("/a").history(last=1),
        lambda: wrong.disconnect("a"),
        lambda: wrong.publish("x").to("/a", "/b"),
    ]
    for call in calls:
        with pytest.raises(push.UnauthorizedError) as e:
            call()
        assert (e.value.code, e.value.status) == ("UNAUTHORIZED", 401)
    with pytest.raises(push.UnauthorizedError):
        push.Producer(keyed.url).channel("/a").info()

    message_id = producer.publish("x").to("/h")
    with pytest.raises(push.InvalidCursorError) as cursor:
        producer.channel("/h").history(after=int(message_id) + 1_000_000)
    assert cursor.value.status == 400
    with pytest.raises(push.BadRequestError) as last:
        producer.channel("/h").history(last=100_000)  # over --max-batch
    assert last.value.status == 400


def test_async_errors_are_the_same_classes(keyed: Server, closed_url: str) -> None:
    async def main() -> None:
        wrong = push.AsyncProducer(keyed.url, publish_key="wrong")
        with pytest.raises(push.UnauthorizedError):
            await wrong.channel("/a").info()
        with pytest.raises(push.UnauthorizedError):
            await wrong.channels()
        with pytest.raises(push.UnauthorizedError):
            await wrong.disconnect("a")
        with pytest.raises(push.UnauthorizedError):
            await wrong.publish("x").to("/a", "/b")
        down = push.AsyncProducer(closed_url)
        with pytest.raises(push.BadRequestError):
            await down.channel("/a").history(last=0)
        with pytest.raises(push.BadRequestError):
            await down.publish("x").to([f"/c{i}" for i in range(101)])
        with pytest.raises(push.InvalidChannelError):
            down.channel("nope")
        with pytest.raises(push.BadRequestError):
            await down.channels(limit=0)
        with pytest.raises(push.BadRequestError):
            await down.disconnect("a", ban=100_000)
        with pytest.raises(push.BadRequestError):
            async for _ in down.iter_channels("nope"):
                pass
        with pytest.raises(push.ConnectionFailedError):
            await down.channel("/a").info()

    asyncio.run(main())


# ---- threads and the event loop


def test_a_blocking_call_releases_the_gil(silent: Silent) -> None:
    producer = push.Producer(silent.url, timeout=1.0)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        with pytest.raises(push.TimeoutError):
            producer.channel("/never").info()
    finally:
        stop.set()
        counter.join()
    assert ticks > 10_000, f"the other thread barely ran: {ticks}"


def test_cancelling_an_async_call_cancels_its_future(silent: Silent) -> None:
    producer = push.Producer(silent.url, timeout=30)

    async def main() -> None:
        future = producer.channel("/never").history_async(last=1)
        assert await asyncio.to_thread(silent.connected.wait, 10), "the call never connected"
        future.cancel()
        with pytest.raises(asyncio.CancelledError):
            await future
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(push.AsyncProducer(producer=producer).disconnect("a"), 0.1)

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5
