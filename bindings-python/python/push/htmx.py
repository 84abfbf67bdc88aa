"""htmx over push-rs: publish HTML under an SSE event name, and render the attributes of
htmx's SSE extension (``htmx-ext-sse``) that subscribe an element to a channel::

    import push.htmx

    push.htmx.publish(f"<li>{escape(text)}</li>", to="/rooms/1", event="chat")
    await push.htmx.publish_async(rendered, to="/rooms/1", event="chat")       # asyncio

    push.htmx.sse_attributes("/rooms/1")
    # -> 'hx-ext="sse" sse-connect="http://127.0.0.1:4000/rooms/1?token=push1...."'

In the page, ``<div hx-ext="sse" sse-connect="..."><ul sse-swap="chat" hx-swap="beforeend">``
swaps in every message published with ``event="chat"``. A gap (messages the server no longer
holds when the browser comes back) arrives as the event ``gap``: ``hx-trigger="sse:gap"`` on an
element reacts to it (e.g. reloads a part of the page).

The same names and outputs as ``Push::Htmx`` (Ruby) and ``htmx`` (Node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Optional, Union

from push._html import SafeHTML, escape, producer_of, subscribe_url
from push._push import Producer

if TYPE_CHECKING:
    from push import Channels
    from push.aio import AsyncProducer

__all__ = ["CONTENT_TYPE", "SafeHTML", "publish", "publish_async", "sse_attributes"]

#: The content type of what :func:`publish` sends.
CONTENT_TYPE = "text/html; charset=utf-8"


def _check_html(html: object) -> str:
    if not isinstance(html, str):
        raise TypeError(f"html must be a str, not {type(html).__name__}")
    return str(html)


def publish(
    html: str,
    *,
    to: Channels,
    event: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Publishes ``html`` (markup the app rendered, sent as is) to ``to`` (a channel, or several:
    one message with one id on all of them) as ``text/html; charset=utf-8``, under the SSE event
    name ``event`` (what ``sse-swap="<event>"`` selects; ``None``: a plain ``message`` event);
    returns the message id.

    ``producer``: default :func:`push.default_producer` (``PUSH_URL``, ``PUSH_PUBLISH_KEY``).
    ``event`` is 1 to 64 of ``A-Z a-z 0-9 - _ . :`` and not one the server sends itself (gap,
    disconnect, ...): ``push.BadRequestError`` otherwise. Raises what any publish raises
    (``push.InvalidChannelError``, ...) and ``TypeError`` when ``html`` is not a ``str``. Blocks
    this thread only (the GIL is released); in a coroutine use :func:`publish_async`.
    """
    data = _check_html(html)
    return producer_of(producer).publish(data, CONTENT_TYPE, idempotency_key=idempotency_key, event=event).to(to)


async def publish_async(
    html: str,
    *,
    to: Channels,
    event: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`publish` without blocking the running event loop; ``producer`` may also be a
    :class:`push.AsyncProducer`."""
    data = _check_html(html)
    return await producer_of(producer).publish(data, CONTENT_TYPE, idempotency_key=idempotency_key, event=event).to_async(to)


def sse_attributes(
    channel: str,
    *,
    consumer: Optional[str] = None,
    expires_in: Optional[int] = None,
    token: bool = True,
    secret: Union[str, bytes, None] = None,
    url: Optional[str] = None,
    gap: Optional[Literal["event", "turbo-refresh"]] = None,
) -> SafeHTML:
    """``hx-ext="sse" sse-connect="URL"``, the attributes of an element whose children take
    their content from ``channel`` (``sse-swap="<event>"``). ``URL`` is :func:`push.subscribe_url`
    (same options; ``gap`` left out by default: the server announces a gap as the event ``gap``,
    which ``hx-trigger="sse:gap"`` reacts to), escaped for the attribute. A :class:`SafeHTML`:
    Jinja2 and Django insert it as is. Raises what :func:`push.subscribe_url` raises."""
    src = subscribe_url(channel, consumer=consumer, expires_in=expires_in, token=token, secret=secret, url=url, gap=gap)
    return SafeHTML(f'hx-ext="sse" sse-connect="{escape(src)}"')
