"""push.turbo (issue 31, /work/shared-notes' contract, docs/HOTWIRE_HTMX.md): the exact fragment of
every action, escaping, every refusal, the tag, and broadcasts (sync, each short form, asyncio)
read back through a real in-process push.Server started with --auth token: from its history
(content type text/vnd.turbo-stream.html, no event name) and from an SSE stream opened with the
tag's own URL, including a gap announced as a Turbo refresh action."""

from __future__ import annotations

import asyncio
import html.parser
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import push
import push.aio
import push.turbo
from conftest import Server, Sse, wait_until

KEY = "turbo-key"
SECRET = "turbo-secret"
ROOM = "/rooms/1"


# The fragments, written out: these exact strings are the contract shared by the three SDKs.


@pytest.mark.parametrize(
    ("action", "kwargs", "expected"),
    [
        ("append", {"target": "messages", "html": "<li>hi</li>"}, '<turbo-stream action="append" target="messages"><template><li>hi</li></template></turbo-stream>'),
        ("prepend", {"target": "messages", "html": "<li>hi</li>"}, '<turbo-stream action="prepend" target="messages"><template><li>hi</li></template></turbo-stream>'),
        ("replace", {"target": "m1", "html": '<li id="m1">new</li>'}, '<turbo-stream action="replace" target="m1"><template><li id="m1">new</li></template></turbo-stream>'),
        ("update", {"target": "count", "text": "3"}, '<turbo-stream action="update" target="count"><template>3</template></turbo-stream>'),
        ("remove", {"target": "m1"}, '<turbo-stream action="remove" target="m1"></turbo-stream>'),
        ("before", {"target": "m1", "html": "<hr>"}, '<turbo-stream action="before" target="m1"><template><hr></template></turbo-stream>'),
        ("after", {"target": "m1", "html": "<hr>"}, '<turbo-stream action="after" target="m1"><template><hr></template></turbo-stream>'),
        ("refresh", {}, '<turbo-stream action="refresh"></turbo-stream>'),
        # targets= (a CSS selector) instead of target=
        ("append", {"targets": ".list", "html": "<li>x</li>"}, '<turbo-stream action="append" targets=".list"><template><li>x</li></template></turbo-stream>'),
        ("remove", {"targets": ".message.old"}, '<turbo-stream action="remove" targets=".message.old"></turbo-stream>'),
        # Turbo 8: morph, and a refresh's request id
        ("replace", {"target": "m1", "html": "<li>m</li>", "method": "morph"}, '<turbo-stream action="replace" target="m1" method="morph"><template><li>m</li></template></turbo-stream>'),
        ("update", {"targets": "#a > b", "text": "", "method": "morph"}, '<turbo-stream action="update" targets="#a &gt; b" method="morph"><template></template></turbo-stream>'),
        ("refresh", {"request_id": "abc-123"}, '<turbo-stream action="refresh" request-id="abc-123"></turbo-stream>'),
        # empty content is content
        ("append", {"target": "messages", "html": ""}, '<turbo-stream action="append" target="messages"><template></template></turbo-stream>'),
    ],
)
def test_stream_fragments(action: push.turbo.Action, kwargs: Dict[str, Any], expected: str) -> None:
    fragment = push.turbo.stream(action, **kwargs)
    assert fragment == expected
    assert type(fragment) is push.SafeHTML and isinstance(fragment, str)


def test_escaping() -> None:
    # text= is escaped; html= is the app's markup, inserted as is; every attribute value is escaped.
    assert push.turbo.stream("append", target="messages", text="<b>Tom & \"Jerry\"</b> 'x'") == (
        '<turbo-stream action="append" target="messages"><template>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; &#39;x&#39;</template></turbo-stream>'
    )
    assert push.turbo.stream("append", target="messages", html="<b>Tom &amp; Jerry</b>") == (
        '<turbo-stream action="append" target="messages"><template><b>Tom &amp; Jerry</b></template></turbo-stream>'
    )
    assert push.turbo.stream("remove", target='a"><script>&\'') == (
        '<turbo-stream action="remove" target="a&quot;&gt;&lt;script&gt;&amp;&#39;"></turbo-stream>'
    )
    assert push.turbo.stream("refresh", request_id='"&<>\'') == '<turbo-stream action="refresh" request-id="&quot;&amp;&lt;&gt;&#39;"></turbo-stream>'
    # Non-ASCII text stays as is (the payload is UTF-8).
    assert push.turbo.stream("update", target="t", text="héllo ✓") == '<turbo-stream action="update" target="t"><template>héllo ✓</template></turbo-stream>'


def test_safe_html() -> None:
    fragment = push.turbo.stream("refresh")
    assert fragment.__html__() is fragment
    assert push.turbo.SafeHTML is push.SafeHTML
    assert fragment + "" == str(fragment) and type(fragment + "") is str  # str operations give plain str


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("explode", {"target": "m"}, "unknown Turbo Stream action 'explode': use one of append, prepend, replace, update, remove, before, after, refresh"),
        ("Append", {"target": "m", "html": ""}, "unknown Turbo Stream action 'Append'"),
        ("", {}, "unknown Turbo Stream action ''"),
        # target / targets
        ("append", {"html": "<li>x</li>"}, "append needs target= (an element id) or targets= (a CSS selector)"),
        ("remove", {}, "remove needs target= (an element id) or targets= (a CSS selector)"),
        ("append", {"target": "a", "targets": ".b", "html": ""}, "append takes one of target= (an element id) or targets= (a CSS selector), not both"),
        ("replace", {"target": "", "html": ""}, "replace's target= is empty: give an element id"),
        ("remove", {"targets": ""}, "remove's targets= is empty: give a CSS selector"),
        ("refresh", {"target": "m"}, "refresh takes no target= or targets=: it reloads the whole page"),
        ("refresh", {"targets": ".m"}, "refresh takes no target= or targets="),
        # content
        ("append", {"target": "m"}, "append needs its content: html= (markup, inserted as is) or text= (escaped); '' is allowed"),
        ("before", {"target": "m"}, "before needs its content"),
        ("update", {"target": "m", "html": "<b>", "text": "b"}, "update takes one of html= (markup, inserted as is) or text= (escaped), not both"),
        ("remove", {"target": "m", "html": "<b>"}, "remove takes no content: leave out html= and text="),
        ("remove", {"target": "m", "text": ""}, "remove takes no content"),
        ("refresh", {"html": "<b>"}, "refresh takes no content"),
        # method
        ("append", {"target": "m", "html": "", "method": "morph"}, "method= is for replace and update only, not append"),
        ("remove", {"target": "m", "method": "morph"}, "method= is for replace and update only, not remove"),
        ("refresh", {"method": "morph"}, "method= is for replace and update only, not refresh"),
        ("replace", {"target": "m", "html": "", "method": "replace"}, "method='replace' is not a Turbo Stream method: use 'morph' (or leave it out)"),
        ("update", {"target": "m", "html": "", "method": ""}, "method='' is not a Turbo Stream method"),
        # request_id
        ("append", {"target": "m", "html": "", "request_id": "r"}, "request_id= is for refresh only, not append"),
        ("remove", {"target": "m", "request_id": "r"}, "request_id= is for refresh only, not remove"),
        ("refresh", {"request_id": ""}, "refresh's request_id= is empty"),
    ],
)
def test_stream_refusals(action: str, kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        push.turbo.stream(action, **kwargs)  # type: ignore[arg-type]  # bad actions on purpose
    assert str(raised.value).startswith(message)
    assert not isinstance(raised.value, push.PushError)  # the helper's own check, not the core's


@pytest.mark.parametrize("name", ["target", "targets", "html", "text", "method", "request_id"])
def test_stream_types(name: str) -> None:
    kwargs: Dict[str, Any] = {"target": "m", "html": ""} if name not in ("target", "targets") else {"html": ""}
    kwargs[name] = 42
    with pytest.raises(TypeError, match=f"^{name}= must be a str, not int$"):
        push.turbo.stream("replace", **kwargs)


def test_stream_source_tag_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    assert push.turbo.stream_source_tag(ROOM, token=False, url="https://push.example.com/") == (
        '<turbo-stream-source src="https://push.example.com/rooms/1?gap=turbo-refresh"></turbo-stream-source>'
    )
    # The src attribute is escaped (& between query parameters); gap can be set back to the default.
    tag = push.turbo.stream_source_tag(ROOM, token=False, consumer="a&b", url="http://push.test")
    assert tag == '<turbo-stream-source src="http://push.test/rooms/1?gap=turbo-refresh&amp;consumer=a%26b"></turbo-stream-source>'
    assert type(tag) is push.SafeHTML and tag.__html__() is tag
    assert push.turbo.stream_source_tag(ROOM, token=False, gap="event", url="http://p") == '<turbo-stream-source src="http://p/rooms/1?gap=event"></turbo-stream-source>'
    assert push.turbo.stream_source_tag(ROOM, token=False, gap=None, url="http://p") == '<turbo-stream-source src="http://p/rooms/1"></turbo-stream-source>'

    # With a token: the src, unescaped, is subscribe_url's (gap first, then consumer, then token).
    monkeypatch.setenv("PUSH_SECRET", SECRET)
    src = src_of(push.turbo.stream_source_tag(ROOM, consumer="alice"))
    assert src.startswith("http://127.0.0.1:4000/rooms/1?gap=turbo-refresh&consumer=alice&token=push1.")
    # Errors are subscribe_url's.
    with pytest.raises(push.InvalidChannelError):
        push.turbo.stream_source_tag("rooms")
    monkeypatch.delenv("PUSH_SECRET")
    with pytest.raises(push.InvalidConfigError, match="PUSH_SECRET"):
        push.turbo.stream_source_tag(ROOM)


class _Attributes(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: Dict[str, Optional[str]] = {}

    def handle_starttag(self, tag: str, attrs: List[Any]) -> None:
        self.found.update(attrs)


def src_of(tag: str) -> str:
    """The src attribute of a tag, as a browser reads it (entities resolved)."""
    parser = _Attributes()
    parser.feed(tag)
    value = parser.found["src"]
    assert value is not None
    return value


# Against a real server.


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server(publish_key=KEY, auth="token", secret=SECRET, history_size=1000)


@pytest.fixture
def producer(server: Server) -> push.Producer:
    return push.Producer(server.url, publish_key=KEY)


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default producer and the tags take the server from the environment."""
    monkeypatch.setenv("PUSH_URL", server.url)
    monkeypatch.setenv("PUSH_PUBLISH_KEY", KEY)
    monkeypatch.setenv("PUSH_SECRET", SECRET)


@pytest.fixture
def streams() -> Iterator[List[Sse]]:
    opened: List[Sse] = []
    yield opened
    for stream in opened:
        stream.close()


def open_tag(server: Server, tag: str, streams: List[Sse], headers: Optional[Dict[str, str]] = None) -> Sse:
    """An SSE stream on the tag's src, as Turbo's EventSource opens it."""
    parts = urllib.parse.urlsplit(src_of(tag))
    assert f"{parts.scheme}://{parts.netloc}" == server.url
    stream = Sse(server, f"{parts.path}?{parts.query}", headers)
    streams.append(stream)
    assert stream.status == 200
    opened = stream.next_event()  # the stream's first event: its cursor and retry delay
    assert opened is not None and "retry" in opened
    return stream


# Each short form with the arguments it takes, and the fragment the subscriber gets.
SHORT_FORMS: List[Any] = [
    ("append", {"target": "messages", "html": "<li>1</li>"}),
    ("prepend", {"target": "messages", "text": "<2>"}),
    ("replace", {"target": "m1", "html": "<li id='m1'>3</li>", "method": "morph"}),
    ("update", {"targets": ".count", "text": "4"}),
    ("remove", {"target": "m1"}),
    ("before", {"target": "m2", "html": "<li>5</li>"}),
    ("after", {"target": "m2", "html": "<li>6</li>"}),
    ("refresh", {"request_id": "req-7"}),
]


def test_broadcasts_read_back(server: Server, producer: push.Producer, env: None, streams: List[Sse]) -> None:
    turbo_page = open_tag(server, push.turbo.stream_source_tag(ROOM), streams)
    wait_until(lambda: producer.channel(ROOM).info().connections == 1, "the page's stream to count")

    sent = []
    for action, kwargs in SHORT_FORMS:
        short_form: Callable[..., str] = getattr(push.turbo, action)
        message_id = short_form(to=ROOM, **kwargs)  # the default producer: PUSH_URL, PUSH_PUBLISH_KEY
        sent.append((message_id, push.turbo.stream(action, **kwargs)))
    sent.append((push.turbo.broadcast("update", to=ROOM, target="t", html="<i>8</i>", producer=producer), push.turbo.stream("update", target="t", html="<i>8</i>")))

    history = producer.channel(ROOM).history(last=20)
    assert [(m.id, m.text, m.content_type, m.event) for m in history.messages] == [
        (message_id, fragment, "text/vnd.turbo-stream.html", None) for message_id, fragment in sent
    ]
    # The page gets each fragment as a plain message event (what Turbo listens to), with its id.
    for message_id, fragment in sent:
        assert turbo_page.next_event() == {"id": message_id, "data": fragment}


def test_broadcast_to_many_and_idempotency(server: Server, producer: push.Producer) -> None:
    first = push.turbo.append(to=["/rooms/a", "/rooms/b"], target="m", text="both", producer=producer, idempotency_key="msg-1")
    again = push.turbo.append(to=["/rooms/a", "/rooms/b"], target="m", text="both", producer=producer, idempotency_key="msg-1")
    assert again == first
    for room in ("/rooms/a", "/rooms/b"):
        assert [(m.id, m.text) for m in producer.channel(room).history().messages] == [(first, push.turbo.stream("append", target="m", text="both"))]


def test_broadcast_refusals_send_nothing(server: Server, producer: push.Producer, env: None) -> None:
    with pytest.raises(ValueError, match="remove takes no content"):
        push.turbo.broadcast("remove", to=ROOM, target="m", html="<b>", producer=producer)
    with pytest.raises(ValueError, match="append needs target="):
        push.turbo.append(to=ROOM, html="<li>")
    with pytest.raises(ValueError, match="unknown Turbo Stream action"):
        push.turbo.broadcast("morph", to=ROOM, target="m", html="")  # type: ignore[arg-type]  # on purpose
    with pytest.raises(push.InvalidChannelError):
        push.turbo.append(to="rooms/1", target="m", html="<li>")
    with pytest.raises(push.BadRequestError):
        push.turbo.append(to=ROOM, target="m", html="<li>", idempotency_key="has space")
    with pytest.raises(push.UnauthorizedError):
        push.turbo.refresh(to=ROOM, producer=push.Producer(server.url, publish_key="wrong"))
    assert producer.channel(ROOM).history().messages == []


def test_broadcasts_async(server: Server, producer: push.Producer, env: None) -> None:
    async def main() -> List[str]:
        async with push.AsyncProducer(server.url, publish_key=KEY) as aproducer:
            ids = []
            for index, (action, kwargs) in enumerate(SHORT_FORMS):
                short_form: Callable[..., Any] = getattr(push.turbo, f"{action}_async")
                # The default producer, a push.Producer and a push.AsyncProducer in turn.
                chosen: Any = (None, producer, aproducer)[index % 3]
                ids.append(await short_form(to=ROOM, producer=chosen, **kwargs))
            ids.append(await push.turbo.broadcast_async("remove", to=ROOM, targets=".old", producer=aproducer))
            with pytest.raises(ValueError, match="update needs its content"):
                await push.turbo.update_async(to=ROOM, target="m")
            return ids

    ids = asyncio.run(main())
    expected = [str(push.turbo.stream(action, **kwargs)) for action, kwargs in SHORT_FORMS] + [str(push.turbo.stream("remove", targets=".old"))]
    assert [(m.id, m.text, m.content_type) for m in producer.channel(ROOM).history().messages] == [
        (message_id, fragment, "text/vnd.turbo-stream.html") for message_id, fragment in zip(ids, expected)
    ]


def test_gap_reaches_the_page_as_a_refresh(start_server: Callable[..., Server], streams: List[Sse], monkeypatch: pytest.MonkeyPatch) -> None:
    # A page away while more was published than the server holds: its EventSource comes back
    # with Last-Event-ID, and the gap arrives as a refresh action (Turbo reloads), then the rest.
    small = start_server(publish_key=KEY, auth="token", secret=SECRET, history_size=2)
    producer = push.Producer(small.url, publish_key=KEY)
    ids = [push.turbo.append(to=ROOM, target="m", text=str(i), producer=producer) for i in range(5)]
    monkeypatch.setenv("PUSH_SECRET", SECRET)
    page = open_tag(small, push.turbo.stream_source_tag(ROOM, url=small.url), streams, {"Last-Event-ID": ids[0]})
    refresh = page.next_event()
    assert refresh is not None and refresh == {"id": refresh["id"], "data": '<turbo-stream action="refresh"></turbo-stream>'}
    assert page.next_event() == {"id": ids[3], "data": push.turbo.stream("append", target="m", text="3")}
    assert page.next_event() == {"id": ids[4], "data": push.turbo.stream("append", target="m", text="4")}


def test_the_tag_needs_a_valid_token(server: Server, producer: push.Producer, streams: List[Sse]) -> None:
    # A tag signed with another secret is refused by the server (401); the right one is let in.
    wrong = urllib.parse.urlsplit(src_of(push.turbo.stream_source_tag(ROOM, secret="not-the-secret", url=server.url)))
    assert Sse(server, f"{wrong.path}?{wrong.query}").status == 401
    open_tag(server, push.turbo.stream_source_tag(ROOM, secret=SECRET, url=server.url), streams)
