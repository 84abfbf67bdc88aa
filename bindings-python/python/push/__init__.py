"""push-rs for Python: publish realtime messages to channels.

    import push
    push.Producer().publish("hi there!").to("/greetings")      # returns the id, a str

    async with push.AsyncProducer() as producer:                # asyncio
        await producer.publish("hi").to("/greetings")

    push.publish("hi", to=["/rooms/1", "/rooms/2"])            # one message, one id, both channels
    push.channel("/rooms/1").info().connections                # the server API (PROTOCOL.md)
    push.channel("/rooms/1").history(last=10).messages
    push.disconnect("alice", reason="logged out", ban=600)
    push.channel("/presence-lobby").presence().members         # who is there (docs/PRESENCE.md)

    events = push.verify_events(body, headers["Push-Signature"])  # the server's --events-url POSTs

    token = push.Token.sign("/rooms/*", expires_in=3600)       # subscriber token, PUSH_SECRET
    push.Token.sign("/presence-lobby", consumer="alice", info={"name": "Alice"})

    with push.Server(history_size=100) as server:               # the server, in this process
        push.Producer(server.url).publish("hi").to("/greetings")

    push.turbo.append(to="/rooms/1", target="messages", html="<li>hi</li>")  # Turbo Streams
    push.turbo.stream_source_tag("/rooms/1")                   # the page's <turbo-stream-source>
    push.htmx.publish("<li>hi</li>", to="/rooms/1", event="chat")  # htmx: sse-swap="chat"
    push.htmx.sse_attributes("/rooms/1")                       # hx-ext="sse" sse-connect="..."
    push.subscribe_url("/rooms/1")                             # an EventSource's URL, with a token

Templates: ``push.jinja.install(env)`` (Jinja2, Flask), ``"push.django"`` in ``INSTALLED_APPS``
and ``{% load push %}`` (Django).

The ``push-server`` command (also ``python -m push``) is installed with the package.

The work is done by the Rust core (sdk-core) in the compiled module ``push._push``.
"""

from __future__ import annotations

import datetime
import os
from typing import Iterable, Iterator, Optional, Sequence, Union

from push._errors import (
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    InternalError,
    InvalidChannelError,
    InvalidConfigError,
    InvalidCursorError,
    OverloadedError,
    PayloadTooLargeError,
    PushError,
    ServerError,
    TimeoutError,
    TlsError,
    TooManyConnectionsError,
    UnauthorizedError,
)
from push._api import ChannelInfo, ChannelPage, Disconnected, Event, Gap, History, HistoryMessage, Member, Presence
from push._push import (
    Channel,
    Producer,
    Publish,
    Server,
    Token,
    __version__,
    close_default,
    default_producer,
    server_main,
    verify_events,
)
from push.aio import AsyncChannel, AsyncProducer, AsyncPublish
from push._html import SafeHTML, subscribe_url
from push import htmx, turbo

__all__ = [
    "__version__",
    "Producer",
    "Publish",
    "AsyncProducer",
    "AsyncPublish",
    "Token",
    "Server",
    "ServerOption",
    "server_main",
    "publish",
    "channel",
    "channels",
    "iter_channels",
    "disconnect",
    "verify_events",
    "Channel",
    "AsyncChannel",
    "ChannelInfo",
    "ChannelPage",
    "Presence",
    "Member",
    "History",
    "HistoryMessage",
    "Gap",
    "Disconnected",
    "Event",
    "Channels",
    "Seconds",
    "default_producer",
    "close_default",
    "Data",
    # Turbo Streams and htmx (push/turbo.py, push/htmx.py, push/_html.py).
    "turbo",
    "htmx",
    "subscribe_url",
    "SafeHTML",
    # The exceptions (push._errors): the classes of docs/ERRORS.md's table.
    "PushError",
    "InvalidChannelError",
    "InvalidCursorError",
    "PayloadTooLargeError",
    "BadRequestError",
    "InvalidConfigError",
    "UnauthorizedError",
    "ForbiddenError",
    "ConnectionFailedError",
    "TlsError",
    "TimeoutError",
    "ServerError",
    "TooManyConnectionsError",
    "OverloadedError",
    "InternalError",
]

#: What a message can be made of: text is sent as UTF-8, binary data as is.
Data = Union[str, bytes, bytearray, memoryview]

#: The channels of a publish: one name, or several (one message with one id on all of them).
Channels = Union[str, Iterable[str]]

#: A duration (a ban): seconds, or a timedelta.
Seconds = Union[int, float, datetime.timedelta]

#: A :class:`Server` option's value: a switch (bool), a list (joined with commas), or text
#: (numbers, durations like ``"30s"``, paths); ``None`` leaves the option out.
ServerOption = Union[bool, int, float, str, "os.PathLike[str]", Sequence[Union[int, float, str]], None]


def publish(
    data: Data,
    *,
    to: Channels,
    content_type: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    event: Optional[str] = None,
) -> str:
    """Publishes ``data`` to ``to`` (a channel, or a list: one message with one id on all of them)
    with the default producer; returns the id.

    ``push.publish("hi", to="/greetings")`` is ``push.Producer().publish("hi").to("/greetings")``
    without making a producer (and its connections) per call. The default producer
    (:func:`default_producer`) is made from ``PUSH_URL``, ``PUSH_PUBLISH_KEY`` and ``PUSH_CA_FILE``
    on first use and made again when any has changed, the same rule in every push-rs SDK (sdk-core's).
    """
    return default_producer().publish(data, content_type, idempotency_key=idempotency_key, event=event).to(to)


def channel(name: str) -> Channel:
    """The channel ``name`` of the default producer: ``push.channel("/rooms/1").info()``,
    ``.history(last=10)``. Raises :class:`InvalidChannelError` for a bad name, at once."""
    return default_producer().channel(name)


def channels(prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None) -> ChannelPage:
    """One page (``limit``: 1 to 1000, default 100) of the channels with a connection or with
    history, in name order, whose names start with ``prefix``; the next page is
    ``channels(prefix, after=page.next)`` while ``page.next`` is not ``None``."""
    return default_producer().channels(prefix, after=after, limit=limit)


def iter_channels(prefix: Optional[str] = None, *, limit: Optional[int] = None) -> Iterator[ChannelInfo]:
    """Every active channel whose name starts with ``prefix``, fetched a page (``limit``) at a
    time as the iteration goes."""
    return default_producer().iter_channels(prefix, limit=limit)


def disconnect(
    consumer: str, *, channel: Optional[str] = None, reason: Optional[str] = None, ban: Optional[Seconds] = None
) -> Disconnected:
    """Ends every subscription of ``consumer`` (only those including ``channel``, if given) on
    every node; ``reason`` (at most 200 bytes) is shown to the client; ``ban`` (seconds or a
    timedelta, at most a day) also refuses its new subscriptions for that long."""
    return default_producer().disconnect(consumer, channel=channel, reason=reason, ban=ban)
