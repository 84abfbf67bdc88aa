"""asyncio: ``await AsyncProducer().publish(data).to(channel)``.

Publishing runs on the producer's own Rust threads and completes on the running event
loop, so the loop keeps serving while the server answers. ``Producer.publish(...).to_async``
is the same without the wrapper class.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Optional, Type, Union

from push._push import Producer, Publish, default_producer

if TYPE_CHECKING:
    import os

    from push import Data

__all__ = ["AsyncProducer", "AsyncPublish", "publish"]


class AsyncPublish:
    """A publish waiting for its channel: ``await producer.publish(data).to(channel)``."""

    __slots__ = ("_publish",)

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    async def to(self, channel: str) -> str:
        """Publishes to ``channel``; returns the message id."""
        return await self._publish.to_async(channel)

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
    ) -> AsyncPublish:
        return AsyncPublish(self._producer.publish(data, content_type, idempotency_key=idempotency_key))

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


async def publish(
    data: Data, *, to: str, content_type: Optional[str] = None, idempotency_key: Optional[str] = None
) -> str:
    """``await push.aio.publish("hi", to="/greetings")`` with the default producer."""
    return await default_producer().publish(data, content_type, idempotency_key=idempotency_key).to_async(to)
