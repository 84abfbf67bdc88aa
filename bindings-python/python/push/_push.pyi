# Type stubs of the compiled module (src/*.rs). Keep in step with the Rust code; ci.sh runs
# mypy.stubtest against the built module.
import asyncio
from types import TracebackType
from typing import Optional, Type, Union, final

from typing_extensions import Self, disjoint_base

__all__ = ["Producer", "Publish", "Token", "__version__"]

__version__: str

@disjoint_base
class Producer:
    """Publishes messages to push-rs channels: ``Producer().publish("hi").to("/greetings")``.

    ``url`` defaults to ``PUSH_URL``, then ``http://127.0.0.1:4000``; ``publish_key`` to
    ``PUSH_PUBLISH_KEY``; ``timeout`` (seconds, per publish, connecting included) to 10.
    Thread-safe, and usable after ``os.fork()`` in the child.
    """

    def __new__(
        cls,
        url: Optional[str] = None,
        *,
        publish_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Self: ...
    @property
    def url(self) -> str: ...
    def publish(
        self,
        data: Union[str, bytes, bytearray, memoryview],
        content_type: Optional[str] = None,
        *,
        idempotency_key: Optional[str] = None,
    ) -> Publish:
        """Starts a publish; ``.to(channel)`` or ``await .to_async(channel)`` sends it.

        ``idempotency_key`` (1 to 255 visible ASCII characters, e.g. ``"order-9"``): a publish with
        a key already used for the same channel, within the server's ``--idempotency-window``,
        stores nothing and returns the first id. ``None``: a fresh key per send. An invalid key
        raises ``push.BadRequest`` when sent.
        """
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

@final
class Publish:
    """A publish waiting for its channel."""

    def to(self, channel: str) -> str:
        """Publishes, blocking this thread only (the GIL is released); returns the id."""
    def to_async(self, channel: str) -> asyncio.Future[str]:
        """Publishes without blocking the running event loop; await it for the id."""

@final
class Token:
    """Subscriber tokens for a server started with ``--auth token --secret <secret>``.

    Not instantiable: use ``Token.sign(...)``.
    """

    @staticmethod
    def sign(
        channel: str,
        *,
        consumer: Optional[str] = None,
        expires_in: int = 3600,
        expires_at: Optional[int] = None,
        secret: Union[str, bytes, None] = None,
    ) -> str:
        """Signs a token for ``channel`` (or a pattern like ``/rooms/*``); returns it as a URL-safe str.

        ``consumer``: only a subscriber with this consumer id may use it. ``expires_in``: seconds
        from now (default 3600); ``expires_at``: absolute Unix seconds, used instead when given.
        ``secret``: the server's ``--secret`` (a str is signed as UTF-8), default ``PUSH_SECRET``.
        Raises ``InvalidConfig`` (missing or empty secret, bad consumer id, negative expiry) or
        ``InvalidChannel``.
        """
