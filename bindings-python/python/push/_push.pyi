# Type stubs of the compiled module (src/*.rs). Keep in step with the Rust code; ci.sh runs
# mypy.stubtest against the built module.
import asyncio
import datetime
import os
from types import TracebackType
from typing import Any, Coroutine, Dict, Iterable, Iterator, List, Optional, Sequence, Type, TypedDict, Union, final

from typing_extensions import Self, disjoint_base

from push._api import ChannelInfo, ChannelPage, Disconnected, Event, History, Presence

__all__ = [
    "Channel",
    "Producer",
    "Publish",
    "Server",
    "Token",
    "__version__",
    "close_default",
    "default_producer",
    "error_table",
    "server_main",
    "verify_events",
    "_raise_internal",
]

__version__: str

@disjoint_base
class Producer:
    """Publishes messages to push-rs channels: ``Producer().publish("hi").to("/greetings")``.

    ``url`` defaults to ``PUSH_URL``, then ``http://127.0.0.1:4000``; ``publish_key`` to
    ``PUSH_PUBLISH_KEY``; ``timeout`` (seconds, per publish, connecting included) to 10;
    ``ca_file`` (a PEM file of CA certificates trusted for ``https://`` and ``amqps://`` besides
    the system's roots) to ``PUSH_CA_FILE``, else the system's roots only. Thread-safe, and usable after ``os.fork()`` in the child.
    """

    def __new__(
        cls,
        url: Optional[str] = None,
        *,
        publish_key: Optional[str] = None,
        timeout: Optional[float] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> Self: ...
    @property
    def url(self) -> str: ...
    def publish(
        self,
        data: Union[str, bytes, bytearray, memoryview],
        content_type: Optional[str] = None,
        *,
        idempotency_key: Optional[str] = None,
        event: Optional[str] = None,
    ) -> Publish:
        """Starts a publish; ``.to(channel)`` or ``await .to_async(channel)`` sends it.

        ``idempotency_key`` (1 to 255 visible ASCII characters, e.g. ``"order-9"``): a publish with
        a key already used for the same channel, within the server's ``--idempotency-window``,
        stores nothing and returns the first id. ``None``: a fresh key per send. An invalid key
        raises ``push.BadRequestError`` when sent.

        ``event``: the message's Server-Sent Events name (``event: chat``), what htmx's
        ``sse-swap="chat"`` selects; 1 to 64 of ``A-Z a-z 0-9 - _ . :``, not one the server sends
        itself (gap, disconnect, ...). ``None``: a plain ``message`` event. An invalid name raises
        ``push.BadRequestError`` when sent.
        """
    def channel(self, name: str) -> Channel:
        """The channel ``name``, to ask about: ``.info()``, ``.history(...)``. ``InvalidChannelError`` now for a bad name."""
    def presence(self, channel: str) -> Presence:
        """Who is present on a presence channel: ``channel(name).presence()``."""
    def presence_async(self, channel: str) -> asyncio.Future[Presence]:
        """``presence(channel)`` without blocking the running event loop."""
    def channels(self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None) -> ChannelPage:
        """One page (``limit`` 1 to 1000, default 100) of the channels with a connection or with
        history, in name order, starting with ``prefix``; the next is ``channels(prefix, after=page.next)``
        while ``page.next`` is not ``None``. Blocks this thread only (the GIL is released)."""
    def channels_async(
        self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None
    ) -> asyncio.Future[ChannelPage]:
        """``channels(...)`` without blocking the running event loop."""
    def iter_channels(self, prefix: Optional[str] = None, *, limit: Optional[int] = None) -> Iterator[ChannelInfo]:
        """Every active channel starting with ``prefix``, a page (``limit``) at a time as iterated."""
    def disconnect(
        self,
        consumer: str,
        *,
        channel: Optional[str] = None,
        reason: Optional[str] = None,
        ban: Union[int, float, datetime.timedelta, None] = None,
    ) -> Disconnected:
        """Ends every subscription of ``consumer`` (those including ``channel``, if given) on every
        node; ``reason`` (at most 200 bytes) is shown to the client; ``ban`` (seconds or a timedelta,
        at most a day) refuses its new subscriptions for that long (``403``)."""
    def disconnect_async(
        self,
        consumer: str,
        *,
        channel: Optional[str] = None,
        reason: Optional[str] = None,
        ban: Union[int, float, datetime.timedelta, None] = None,
    ) -> asyncio.Future[Disconnected]:
        """``disconnect(...)`` without blocking the running event loop."""
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
    """A publish waiting for its channels."""

    def to(self, *channels: Union[str, Iterable[str]]) -> str:
        """Publishes to the channels (``to("/a")``, ``to("/a", "/b")`` or ``to(["/a", "/b"])``: one
        message with one id on all of them), blocking this thread only (the GIL is released);
        returns the id."""
    def to_async(self, *channels: Union[str, Iterable[str]]) -> asyncio.Future[str]:
        """Publishes without blocking the running event loop; await it for the id."""

@final
class Channel:
    """A channel of a producer (``producer.channel(name)``, ``push.channel(name)``); not instantiable."""

    @property
    def name(self) -> str: ...
    @property
    def producer(self) -> Producer: ...
    def info(self) -> ChannelInfo:
        """Who is connected and what it holds, now, over every node (blocking; the GIL is released)."""
    def info_async(self) -> asyncio.Future[ChannelInfo]:
        """``info()`` without blocking the running event loop."""
    def presence(self) -> Presence:
        """Who is present on it, a presence channel (its name starts with the server's
        ``--presence-prefix``, default ``/presence-``), each consumer once with its token's info.
        ``BadRequestError`` for another channel (blocking; the GIL is released)."""
    def presence_async(self) -> asyncio.Future[Presence]:
        """``presence()`` without blocking the running event loop."""
    def history(self, *, last: Optional[int] = None, after: Union[str, int, None] = None, limit: Optional[int] = None) -> History:
        """Messages of its history, oldest first: ``last=N`` the newest N held in memory (1 to the
        server's ``--max-batch``), ``after=id`` every message after that cursor (at most ``limit``;
        page on with ``after=h.last_id`` while ``h.more``), with gaps for what is gone; neither: all
        held in memory. ``BadRequestError`` for ``last`` with ``after``, ``limit`` without ``after``, ``last=0``."""
    def history_async(
        self, *, last: Optional[int] = None, after: Union[str, int, None] = None, limit: Optional[int] = None
    ) -> asyncio.Future[History]:
        """``history(...)`` without blocking the running event loop."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

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
        expires_in: Optional[int] = None,
        expires_at: Optional[int] = None,
        secret: Union[str, bytes, None] = None,
        info: Optional[Dict[str, Any]] = None,
    ) -> str:
        """Signs a token for ``channel`` (or a pattern like ``/rooms/*``); returns it as a URL-safe str.

        ``consumer``: only a subscriber with this consumer id may use it. ``expires_in``: seconds
        from now (default: an hour, sdk-core's); ``expires_at``: absolute Unix seconds, used instead
        when given. ``secret``: the server's ``--secret`` (a str is signed as UTF-8), default
        ``PUSH_SECRET``. ``info``: the consumer's public info (``{"name": "Alice"}``), what the
        members of a presence channel see; signed, not secret; at most 1024 bytes of compact JSON;
        needs ``consumer``. Raises ``InvalidConfigError`` (missing or empty secret, bad consumer id,
        negative expiry, bad info), ``InvalidChannelError``, or ``TypeError`` (info not a dict).
        """

@final
class Server:
    """A push-server running inside this process, on its own threads::

        with push.Server(history_size=1000) as server:
            push.Producer(server.url).publish("hi").to("/greetings")

    The options are ``push-server``'s flags by name (``publish_key="k"`` is ``--publish-key k``;
    ``allow_open_publish=True`` a switch; lists are joined with commas; numbers and durations as
    ``30`` or ``"30s"``); ``PUSH_*`` environment variables apply as to the binary. The default
    bind is ``127.0.0.1:0``, a free port. Bad options raise ``push.InvalidConfigError`` here.
    """

    def __new__(
        cls, **options: Union[bool, int, float, str, os.PathLike[str], Sequence[Union[int, float, str]], None]
    ) -> Self: ...
    def start(self) -> Self:
        """Binds and serves; returns once it accepts connections (the GIL is released meanwhile).
        Raises ``InvalidConfigError`` when the address cannot be bound, ``ConnectionFailedError`` when the
        broker cannot be reached. Does nothing if it is already running."""
    def stop(self) -> None:
        """Stops gracefully (open streams are ended first) and returns once it is gone. Idempotent."""
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; RuntimeError before the first start."""
    @property
    def port(self) -> int:
        """The port it listens on; RuntimeError before the first start."""
    @property
    def running(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def __aenter__(self) -> Coroutine[Any, Any, Self]: ...
    def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> Coroutine[Any, Any, None]: ...

def server_main(argv: List[str]) -> int:
    """Runs the ``push-server`` command line with ``argv`` (the arguments, without the program name:
    ``sys.argv[1:]``, as Ruby's ``Push::Server.cli(ARGV)``) and returns its exit code: ``--help`` 0,
    bad flags 2. Serves until SIGINT/SIGTERM; the GIL is released meanwhile."""

def verify_events(
    body: Union[bytes, bytearray, memoryview, str],
    signature: Optional[str],
    *,
    secret: Union[str, bytes, None] = None,
    tolerance: int = 300,
) -> List[Event]:
    """Checks that an events request (``--events-url``) comes from the push server and returns
    its events in order. ``body``: the raw request body, as received; ``signature``: its
    ``Push-Signature`` header (``None``: no header). ``secret``: default ``PUSH_EVENTS_SECRET``,
    then ``PUSH_SECRET``; ``tolerance``: seconds the signature's time may be from now. Raises
    ``UnauthorizedError`` (no, wrong or too old signature), ``BadRequestError`` (a signed body
    that is not an events batch), ``InvalidConfigError`` (no secret, negative tolerance)."""

def default_producer() -> Producer:
    """The shared producer behind ``push.publish`` and ``push.aio.publish`` (sdk-core's rule, as in
    every push-rs SDK): made on first use from ``PUSH_URL``, ``PUSH_PUBLISH_KEY`` and
    ``PUSH_CA_FILE``, made again when any has changed since, else the same object."""

def close_default() -> None:
    """Closes the default producer's connections and forgets it: the next ``push.publish`` makes a
    new one (from the environment of then). A producer obtained before stays usable."""

class _ErrorRow(TypedDict):
    code: str
    class_name: str
    http_status: int
    retryable: bool
    maybe_stored: bool

def error_table() -> List[_ErrorRow]:
    """sdk-core's table of error kinds (docs/ERRORS.md), one row per kind, in the docs' order."""

def _raise_internal(message: str) -> None:
    """Panics inside the native panic guard: raises ``push.InternalError`` (for tests)."""
