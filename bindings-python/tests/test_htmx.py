"""push.htmx (issue 31): sse_attributes' exact output and escaping, and publishes (sync and
asyncio) arriving as `event: <name>` on an SSE stream opened with the attributes' own URL, on a
real in-process push.Server started with --auth token; the content type and event name read back
through history; refused event names; a gap announced as `event: gap` (what hx-trigger="sse:gap"
reacts to)."""

from __future__ import annotations

import asyncio
import html.parser
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import push
import push.htmx
from conftest import Server, Sse, wait_until

KEY = "htmx-key"
SECRET = "htmx-secret"
ROOM = "/rooms/1"


class _Attributes(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: Dict[str, Optional[str]] = {}

    def handle_starttag(self, tag: str, attrs: List[Any]) -> None:
        self.found.update(attrs)


def attributes_of(rendered: str) -> Dict[str, Optional[str]]:
    """The attributes as a browser reads them from `<div {rendered}>`."""
    parser = _Attributes()
    parser.feed(f"<div {rendered}></div>")
    return parser.found


def test_sse_attributes_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    assert push.htmx.sse_attributes(ROOM, token=False, url="https://push.example.com") == 'hx-ext="sse" sse-connect="https://push.example.com/rooms/1"'
    # The URL is escaped for the attribute (& between query parameters, and in values).
    rendered = push.htmx.sse_attributes(ROOM, token=False, consumer="a&b", gap="event", url="http://p.test/")
    assert rendered == 'hx-ext="sse" sse-connect="http://p.test/rooms/1?gap=event&amp;consumer=a%26b"'
    assert type(rendered) is push.SafeHTML and rendered.__html__() is rendered
    assert attributes_of(rendered) == {"hx-ext": "sse", "sse-connect": "http://p.test/rooms/1?gap=event&consumer=a%26b"}

    monkeypatch.setenv("PUSH_SECRET", SECRET)
    monkeypatch.setenv("PUSH_PUBLIC_URL", "https://push.example.com")
    connect = attributes_of(push.htmx.sse_attributes(ROOM, consumer="alice"))["sse-connect"]
    assert connect is not None and connect.startswith("https://push.example.com/rooms/1?consumer=alice&token=push1.")  # no gap=: the default

    with pytest.raises(push.InvalidChannelError):
        push.htmx.sse_attributes("no-slash")
    monkeypatch.delenv("PUSH_SECRET")
    with pytest.raises(push.InvalidConfigError, match="set PUSH_SECRET"):
        push.htmx.sse_attributes(ROOM)


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server(publish_key=KEY, auth="token", secret=SECRET, history_size=1000)


@pytest.fixture
def producer(server: Server) -> push.Producer:
    return push.Producer(server.url, publish_key=KEY)


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_URL", server.url)
    monkeypatch.setenv("PUSH_PUBLISH_KEY", KEY)
    monkeypatch.setenv("PUSH_SECRET", SECRET)


@pytest.fixture
def streams() -> Iterator[List[Sse]]:
    opened: List[Sse] = []
    yield opened
    for stream in opened:
        stream.close()


def connect(server: Server, rendered: str, streams: List[Sse], headers: Optional[Dict[str, str]] = None) -> Sse:
    """The SSE stream htmx's extension opens for `sse-connect`."""
    url = attributes_of(rendered)["sse-connect"]
    assert url is not None
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == server.url
    stream = Sse(server, f"{parts.path}?{parts.query}", headers)
    streams.append(stream)
    assert stream.status == 200
    opened = stream.next_event()
    assert opened is not None and "retry" in opened
    return stream


def test_publish_arrives_under_its_event_name(server: Server, producer: push.Producer, env: None, streams: List[Sse]) -> None:
    page = connect(server, push.htmx.sse_attributes(ROOM), streams)
    wait_until(lambda: producer.channel(ROOM).info().connections == 1, "the page's stream to count")

    chat = push.htmx.publish("<li>hi &amp; bye</li>", to=ROOM, event="chat")  # the default producer
    status = push.htmx.publish("<b>typing…</b>", to=ROOM, event="user.status:typing-1", producer=producer)
    plain = push.htmx.publish("<p>no name</p>", to=ROOM)
    named_message = push.htmx.publish("<p>message</p>", to=ROOM, event="message")  # the same as no name
    multi_line = push.htmx.publish("<ul>\n<li>a</li>\n</ul>", to=ROOM, event="chat")

    assert page.next_event() == {"id": chat, "event": "chat", "data": "<li>hi &amp; bye</li>"}
    assert page.next_event() == {"id": status, "event": "user.status:typing-1", "data": "<b>typing…</b>"}
    assert page.next_event() == {"id": plain, "data": "<p>no name</p>"}
    assert page.next_event() == {"id": named_message, "data": "<p>message</p>"}
    assert page.next_event() == {"id": multi_line, "event": "chat", "data": "<ul>\n<li>a</li>\n</ul>"}

    history = producer.channel(ROOM).history(last=10).messages
    assert [(m.id, m.content_type, m.event) for m in history] == [
        (chat, "text/html; charset=utf-8", "chat"),
        (status, "text/html; charset=utf-8", "user.status:typing-1"),
        (plain, "text/html; charset=utf-8", None),
        (named_message, "text/html; charset=utf-8", None),
        (multi_line, "text/html; charset=utf-8", "chat"),
    ]
    assert history[1].text == "<b>typing…</b>"


def test_publish_to_many_and_idempotency(producer: push.Producer) -> None:
    first = push.htmx.publish("<li>x</li>", to=["/a", "/b"], event="chat", producer=producer, idempotency_key="k-1")
    assert push.htmx.publish("<li>x</li>", to=["/a", "/b"], event="chat", producer=producer, idempotency_key="k-1") == first
    for channel in ("/a", "/b"):
        assert [(m.id, m.event) for m in producer.channel(channel).history().messages] == [(first, "chat")]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("", '"" is not an event name: use 1 to 64 of the characters A-Z a-z 0-9 - _ . :'),
        ("a" * 65, "is not an event name: use 1 to 64"),
        ("chat room", '"chat room" is not an event name'),
        ("gap", 'the event name "gap" is the server\'s own'),
        ("disconnect", "is the server's own"),
        ("open", "is the server's own"),
        ("error", "is the server's own"),
    ],
)
def test_bad_event_names(producer: push.Producer, event: str, message: str) -> None:
    with pytest.raises(push.BadRequestError) as raised:
        push.htmx.publish("<li>x</li>", to=ROOM, event=event, producer=producer)
    assert message in str(raised.value)
    assert producer.channel(ROOM).history().messages == []


def test_publish_refusals(producer: push.Producer) -> None:
    with pytest.raises(TypeError, match="^html must be a str, not bytes$"):
        push.htmx.publish(b"<li>x</li>", to=ROOM, producer=producer)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(push.InvalidChannelError):
        push.htmx.publish("<li>x</li>", to="rooms", producer=producer)
    with pytest.raises(push.UnauthorizedError):
        push.htmx.publish("<li>x</li>", to=ROOM, producer=push.Producer(producer.url, publish_key="wrong"))
    assert producer.channel(ROOM).history().messages == []


def test_publish_async(server: Server, producer: push.Producer, env: None, streams: List[Sse]) -> None:
    page = connect(server, push.htmx.sse_attributes(ROOM, consumer="alice"), streams)
    wait_until(lambda: producer.channel(ROOM).info().connections == 1, "the page's stream to count")

    async def main() -> List[str]:
        async with push.AsyncProducer(server.url, publish_key=KEY) as aproducer:
            ids = [
                await push.htmx.publish_async("<li>1</li>", to=ROOM, event="chat"),
                await push.htmx.publish_async("<li>2</li>", to=ROOM, event="chat", producer=producer),
                await push.htmx.publish_async("<li>3</li>", to=ROOM, event="notice", producer=aproducer),
            ]
            with pytest.raises(push.BadRequestError):
                await push.htmx.publish_async("<li>x</li>", to=ROOM, event="presence", producer=aproducer)
            with pytest.raises(TypeError):
                await push.htmx.publish_async(None, to=ROOM)  # type: ignore[arg-type]  # on purpose
            return ids

    ids = asyncio.run(main())
    assert page.next_event() == {"id": ids[0], "event": "chat", "data": "<li>1</li>"}
    assert page.next_event() == {"id": ids[1], "event": "chat", "data": "<li>2</li>"}
    assert page.next_event() == {"id": ids[2], "event": "notice", "data": "<li>3</li>"}


def test_gap_is_an_event_htmx_can_trigger_on(start_server: Callable[..., Server], streams: List[Sse], monkeypatch: pytest.MonkeyPatch) -> None:
    small = start_server(publish_key=KEY, auth="token", secret=SECRET, history_size=2)
    producer = push.Producer(small.url, publish_key=KEY)
    ids = [push.htmx.publish(f"<li>{i}</li>", to=ROOM, event="chat", producer=producer) for i in range(5)]
    monkeypatch.setenv("PUSH_SECRET", SECRET)
    page = connect(small, push.htmx.sse_attributes(ROOM, url=small.url), streams, {"Last-Event-ID": ids[0]})
    gap = page.next_event()
    assert gap is not None and gap["event"] == "gap" and '"type":"gap"' in gap["data"]
    assert page.next_event() == {"id": ids[3], "event": "chat", "data": "<li>3</li>"}
