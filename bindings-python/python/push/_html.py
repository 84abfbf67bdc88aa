"""What the Turbo Streams and htmx helpers share: :class:`SafeHTML` (markup a template engine
inserts as is), attribute escaping, and :func:`subscribe_url`, the URL a browser's EventSource
subscribes with (docs: the "Turbo Streams and htmx" section of README.md)."""

from __future__ import annotations

import os
import threading
import urllib.parse
from typing import TYPE_CHECKING, List, Optional, Tuple, Union

from push._errors import InvalidConfigError
from push._push import Producer, Token, default_producer

if TYPE_CHECKING:
    from push.aio import AsyncProducer

__all__ = ["SafeHTML", "escape", "subscribe_url", "DEFAULT_URL", "producer_of"]

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


def _given(value: Optional[str]) -> Optional[str]:
    """A URL setting as sdk-core reads ``PUSH_URL``: trimmed, and blank is not given."""
    if value is None or not value.strip():
        return None
    return value.strip()


def base_url(url: Optional[str] = None) -> str:
    """The address browsers reach the push server at: ``url``, else ``PUSH_PUBLIC_URL``, else
    ``PUSH_URL``, else ``http://127.0.0.1:4000``; trailing slashes dropped."""
    base = _given(url) or _given(os.environ.get("PUSH_PUBLIC_URL")) or _given(os.environ.get("PUSH_URL")) or DEFAULT_URL
    return base.rstrip("/")


def subscribe_url(
    channel: str,
    *,
    consumer: Optional[str] = None,
    expires_in: Optional[int] = None,
    token: bool = True,
    secret: Optional[str] = None,
    url: Optional[str] = None,
    gap: Optional[str] = None,
) -> str:
    """The URL a browser subscribes to ``channel`` with (an ``EventSource``, Turbo's
    ``<turbo-stream-source>``, htmx's ``sse-connect``), carrying a subscriber token::

        push.subscribe_url("/rooms/1")
        # -> "http://127.0.0.1:4000/rooms/1?token=push1...."

    - The base is ``url``, else ``PUSH_PUBLIC_URL`` (the address browsers use), else ``PUSH_URL``,
      else ``http://127.0.0.1:4000``, without a trailing ``/``; blank values count as not given.
      The channel (checked: ``push.InvalidChannelError``) is its path.
    - The query, in this order: ``gap=<gap>`` when given (``"turbo-refresh"``: a gap arrives as a
      Turbo ``refresh`` action; ``"event"``, the server's default: as ``event: gap``),
      ``consumer=<consumer>`` when given, ``token=<token>`` unless ``token=False`` (for a server
      without ``--auth token``). Values are percent-encoded.
    - The token is ``push.Token.sign(channel, consumer=consumer, expires_in=expires_in,
      secret=secret)``: good for exactly this channel (and consumer), for ``expires_in`` seconds
      (default an hour; a page open longer cannot reconnect once it has expired). ``secret``
      defaults to ``PUSH_SECRET``; with neither, ``push.InvalidConfigError`` (set PUSH_SECRET or
      pass ``token=False``).
    """
    name = check_channel(channel)
    query: List[Tuple[str, str]] = []
    if gap is not None:
        query.append(("gap", gap))
    if consumer is not None:
        query.append(("consumer", consumer))
    if token:
        if secret is None and not os.environ.get("PUSH_SECRET"):
            raise InvalidConfigError(
                f"no secret to sign the subscriber token of {name}: set PUSH_SECRET (the server's --secret), "
                "pass secret=..., or pass token=False for a server without --auth token"
            )
        query.append(("token", Token.sign(name, consumer=consumer, expires_in=expires_in, secret=secret)))
    address = base_url(url) + name
    if query:
        address += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return address
