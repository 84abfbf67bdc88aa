"""What the Turbo Streams and htmx helpers share: :class:`SafeHTML` (markup a template engine
inserts as is), attribute escaping, and :func:`subscribe_url`, the URL a browser's EventSource
subscribes with (docs: the "Turbo Streams and htmx" section of README.md)."""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from typing import TYPE_CHECKING, List, Literal, Optional, Tuple, Union

from push._errors import InvalidConfigError
from push._push import Producer, Token, default_producer

if TYPE_CHECKING:
    from push.aio import AsyncProducer

__all__ = ["SafeHTML", "escape", "subscribe_url", "base_url", "DEFAULT_URL", "GAPS", "producer_of"]

#: The base URL when neither ``url``, ``PUSH_PUBLIC_URL`` nor ``PUSH_URL`` gives one (sdk-core's default).
DEFAULT_URL = "http://127.0.0.1:4000"


class SafeHTML(str):
    """A ``str`` of markup that is already escaped where it needs to be: Jinja2 (with autoescape)
    and Django templates insert it as is, because it has ``__html__`` (the protocol both honour;
    no markupsafe dependency). Anything else treats it as the ``str`` it is."""

    __slots__ = ()

    def __html__(self) -> SafeHTML:
        return self


_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#39;"}


def escape(text: str) -> str:
    """``text`` with ``& < > " '`` escaped, for an element's content or a quoted attribute value."""
    return text.translate(_ESCAPES)


# Channel names are checked by the Rust core, the one place that parses them. A producer only
# checks its options when made (no connection, no threads until a publish), and Producer.channel
# checks a name without any I/O: this one is never used for anything else.
_checker: Optional[Producer] = None
_checker_lock = threading.Lock()


def check_channel(channel: str) -> str:
    """``channel`` if it is a valid channel name; ``push.InvalidChannelError`` otherwise."""
    global _checker
    if _checker is None:
        with _checker_lock:
            if _checker is None:
                _checker = Producer(DEFAULT_URL)
    return _checker.channel(channel).name


def producer_of(producer: Union[Producer, AsyncProducer, None]) -> Producer:
    """The blocking producer a helper publishes with: the one given (an AsyncProducer's own), else
    the default producer."""
    if producer is None:
        return default_producer()
    if isinstance(producer, Producer):
        return producer
    return producer.producer


#: How a subscription is told about a gap (the server's ``?gap=``).
GAPS = ("event", "turbo-refresh")

_BASE = re.compile(r"https?://[^/?#\s]+(/[^?#\s]*)?", re.IGNORECASE)


def base_url(url: Optional[str] = None) -> str:
    """The address browsers reach the push server at: ``url``, else ``PUSH_PUBLIC_URL``, else
    ``PUSH_URL``, else ``http://127.0.0.1:4000`` (values trimmed; a blank one counts as none, as
    the core reads ``PUSH_URL``); trailing slashes dropped. ``push.InvalidConfigError`` unless it is an ``http://`` or ``https://`` URL
    without query (a path is kept: a server behind a prefix)."""
    if url is not None and not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    candidates = (("url=", url), ("PUSH_PUBLIC_URL", os.environ.get("PUSH_PUBLIC_URL")), ("PUSH_URL", os.environ.get("PUSH_URL")))
    for source, given in candidates:
        value = given.strip() if given is not None else ""
        if value:
            if not _BASE.fullmatch(value):
                raise InvalidConfigError(
                    f"the subscribe URL's base ({source} {value!r}) is not an http:// or https:// URL without query: "
                    "browsers subscribe over HTTP (set PUSH_PUBLIC_URL to the address browsers use, or pass url=)"
                )
            return value.rstrip("/")
    return DEFAULT_URL


def _check_consumer(consumer: Optional[str]) -> None:
    # The checks the core makes of a token's consumer id, made without a token too: a ?consumer=
    # the server would refuse or ignore is a bug to report early.
    if consumer is None:
        return
    if not isinstance(consumer, str):
        raise TypeError(f"consumer must be a str, not {type(consumer).__name__}")
    if not consumer:
        raise InvalidConfigError("the consumer id is empty")
    if "\n" in consumer:
        raise InvalidConfigError("the consumer id has a line break")


def subscribe_url(
    channel: str,
    *,
    consumer: Optional[str] = None,
    expires_in: Optional[int] = None,
    token: bool = True,
    secret: Union[str, bytes, None] = None,
    url: Optional[str] = None,
    gap: Optional[Literal["event", "turbo-refresh"]] = None,
) -> str:
    """The URL a browser subscribes to ``channel`` with (an ``EventSource``, Turbo's
    ``<turbo-stream-source>``, htmx's ``sse-connect``), carrying a subscriber token::

        push.subscribe_url("/rooms/1")                      # secret: PUSH_SECRET
        # -> "http://127.0.0.1:4000/rooms/1?token=push1...."
        push.subscribe_url("/rooms/1", consumer=str(user.id), expires_in=600)
        push.subscribe_url("/news", token=False)             # a server without --auth token

    - The base is ``url``, else ``PUSH_PUBLIC_URL`` (the address browsers use), else ``PUSH_URL``,
      else ``http://127.0.0.1:4000`` (trimmed; a blank value counts as none), without trailing ``/``; it
      must be an ``http://`` or ``https://`` URL without query (a path is kept:
      ``https://example.com/push`` + ``/rooms/1``). The channel (checked) is appended as its path.
    - The query, in this order: ``gap=<gap>`` when given (``"turbo-refresh"``: a gap arrives as a
      Turbo ``refresh`` action; ``"event"``, the server's default: as ``event: gap``),
      ``consumer=<consumer>`` when given, ``token=<token>`` unless ``token=False`` (for a server
      without ``--auth token``). Values are percent-encoded (all but ``A-Z a-z 0-9 - . _ ~``).
    - The token is :meth:`push.Token.sign` for exactly this channel, consumer, ``expires_in``
      (seconds; default an hour: a page open longer cannot reconnect once it has expired) and
      ``secret`` (default ``PUSH_SECRET``).

    Raises ``push.InvalidChannelError`` for a bad channel; ``push.InvalidConfigError`` without a
    secret (set PUSH_SECRET, or pass ``token=False``), for an empty consumer id or one with a line
    break, a negative expiry, or a base that is not ``http(s)://``; ``ValueError`` for another
    ``gap``, or ``secret``/``expires_in`` with ``token=False``; ``TypeError`` for values of other
    types.
    """
    if not isinstance(channel, str):
        raise TypeError(f"the channel must be a str such as '/rooms/1', not {type(channel).__name__}")
    name = check_channel(channel)
    if not isinstance(token, bool):
        raise TypeError(f"token must be True or False, not {token!r}")
    if gap is not None and gap not in GAPS:
        raise ValueError(f"gap={gap!r} is not a way to announce a gap: use 'event' (the server's default) or 'turbo-refresh' (or None)")
    _check_consumer(consumer)
    base = base_url(url)
    if not token and (secret is not None or expires_in is not None):
        raise ValueError("secret= and expires_in= sign the token; with token=False there is none")

    query: List[Tuple[str, str]] = []
    if gap is not None:
        query.append(("gap", gap))
    if consumer is not None:
        query.append(("consumer", consumer))
    if token:
        if not (secret if secret is not None else os.environ.get("PUSH_SECRET")):
            raise InvalidConfigError(
                f"subscribe_url signs a subscriber token for {name} and needs the server's secret: set PUSH_SECRET "
                "(or pass secret=), or pass token=False for a server without --auth token"
            )
        query.append(("token", Token.sign(name, consumer=consumer, expires_in=expires_in, secret=secret)))
    address = base + name
    if query:
        # Every byte but RFC 3986's unreserved A-Z a-z 0-9 - . _ ~ percent-encoded (as in every SDK).
        address += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return address
