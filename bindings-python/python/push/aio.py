"""asyncio: ``await AsyncProducer().publish(data).to(channel)``, and the server API:
``await producer.channel(name).info()``, ``.presence()``, ``.history(...)``, ``await producer.channels(...)``,
``async for info in producer.iter_channels(...)``, ``await producer.disconnect(...)``; the
module's functions do the same with the default producer.

Every call runs on the producer's own Rust threads and completes on the running event loop, so
the loop keeps serving while the server answers. ``Producer.publish(...).to_async`` (and
``Channel.info_async``, ``Producer.channels_async``, ...) are the same without the wrapper classes.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Optional, Type, Union

from push._api import ChannelInfo, ChannelPage, Disconnected, History, Presence
from push._push import Channel, Producer, Publish, default_producer

if TYPE_CHECKING:
    import os

    from push import Channels, Data, Seconds

__all__ = ["AsyncProducer", "AsyncPublish", "AsyncChannel", "publish", "channel", "channels", "iter_channels", "disconnect"]


class AsyncPublish:
    """A publish waiting for its channels: ``await producer.publish(data).to("/a", "/b")``."""

    __slots__ = ("_publish",)

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    async def to(self, *channels: Union[str, Iterable[str]]) -> str:
        """Publishes to the channels (one message with one id on all of them); returns its id."""
        return await self._publish.to_async(*channels)

    def __repr__(self) -> str:
        return repr(self._publish).replace("push.Publish", "push.AsyncPublish", 1)


class AsyncProducer:
    """The asyncio face of :class:`push.Producer` (same arguments)::

        async with push.AsyncProducer() as producer:
            message_id = await producer.publish("hi").to("/greetings")
    """

    __slots__ = ("_producer",)

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        publish_key: Optional[str] = None,
        timeout: Optional[float] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        producer: Optional[Producer] = None,
    ) -> None:
        self._producer = producer if producer is not None else Producer(url, publish_key=publish_key, timeout=timeout, ca_file=ca_file)

    @property
    def url(self) -> str:
        return self._producer.url

    @property
    def producer(self) -> Producer:
        """The blocking producer underneath (shares connections with this one)."""
        return self._producer

    def publish(
        self,
        data: Union[str, bytes, bytearray, memoryview],
        content_type: Optional[str] = None,
        *,
        idempotency_key: Optional[str] = None,
        event: Optional[str] = None,
    ) -> AsyncPublish:
        return AsyncPublish(self._producer.publish(data, content_type, idempotency_key=idempotency_key, event=event))

    def channel(self, name: str) -> AsyncChannel:
        """The channel ``name`` (checked now): ``await producer.channel("/rooms/1").info()``."""
        return AsyncChannel(self._producer.channel(name))

    async def presence(self, channel: str) -> Presence:
        """Who is present on a presence channel (see :meth:`push.Channel.presence`)."""
        return await self._producer.presence_async(channel)

    async def channels(self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None) -> ChannelPage:
        """One page of the active channels (see :meth:`push.Producer.channels`)."""
        return await self._producer.channels_async(prefix, after=after, limit=limit)

    async def iter_channels(self, prefix: Optional[str] = None, *, limit: Optional[int] = None) -> AsyncIterator[ChannelInfo]:
        """Every active channel whose name starts with ``prefix``, a page at a time."""
        after: Optional[str] = None
        while True:
            page = await self._producer.channels_async(prefix, after=after, limit=limit)
            for info in page.channels:
                yield info
            if page.next is None:
                return
            after = page.next

    async def disconnect(
        self, consumer: str, *, channel: Optional[str] = None, reason: Optional[str] = None, ban: Optional[Seconds] = None
    ) -> Disconnected:
        """Ends the consumer's subscriptions, and bans it for ``ban`` (see :func:`push.disconnect`)."""
        return await self._producer.disconnect_async(consumer, channel=channel, reason=reason, ban=ban)

    async def aclose(self) -> None:
        """Closes the connections; publishes still running fail with ``push.ConnectionFailedError``."""
        self._producer.close()

    async def __aenter__(self) -> AsyncProducer:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<push.AsyncProducer url={self.url!r}>"


class AsyncChannel:
    """A channel of an :class:`AsyncProducer`: ``await channel.info()``, ``await channel.presence()``,
    ``await channel.history(last=10)``."""

    __slots__ = ("_channel",)

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    @property
    def name(self) -> str:
        return self._channel.name

    @property
    def channel(self) -> Channel:
        """The blocking channel underneath."""
        return self._channel

    async def info(self) -> ChannelInfo:
        """Who is connected and what it holds, now."""
        return await self._channel.info_async()

    async def presence(self) -> Presence:
        """Who is present on it, a presence channel (see :meth:`push.Channel.presence`)."""
        return await self._channel.presence_async()

    async def history(self, *, last: Optional[int] = None, after: Union[str, int, None] = None, limit: Optional[int] = None) -> History:
        """Messages of its history (see :meth:`push.Channel.history`)."""
        return await self._channel.history_async(last=last, after=after, limit=limit)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncChannel) and self._channel == other._channel

    def __hash__(self) -> int:
        return hash(self._channel)

    def __repr__(self) -> str:
        return f"<push.AsyncChannel {self.name}>"


async def publish(
    data: Data,
    *,
    to: Channels,
    content_type: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    event: Optional[str] = None,
) -> str:
    """``await push.aio.publish("hi", to="/greetings")`` (or ``to=["/a", "/b"]``) with the default producer."""
    return await default_producer().publish(data, content_type, idempotency_key=idempotency_key, event=event).to_async(to)


def channel(name: str) -> AsyncChannel:
    """``await push.aio.channel("/rooms/1").info()`` with the default producer."""
    return AsyncChannel(default_producer().channel(name))


async def channels(prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None) -> ChannelPage:
    """``await push.aio.channels("/rooms/")`` with the default producer."""
    return await default_producer().channels_async(prefix, after=after, limit=limit)


def iter_channels(prefix: Optional[str] = None, *, limit: Optional[int] = None) -> AsyncIterator[ChannelInfo]:
    """``async for info in push.aio.iter_channels("/rooms/")`` with the default producer."""
    return AsyncProducer(producer=default_producer()).iter_channels(prefix, limit=limit)


async def disconnect(
    consumer: str, *, channel: Optional[str] = None, reason: Optional[str] = None, ban: Optional[Seconds] = None
) -> Disconnected:
    """``await push.aio.disconnect("alice", ban=600)`` with the default producer."""
    return await default_producer().disconnect_async(consumer, channel=channel, reason=reason, ban=ban)
