"""Turbo Streams (Hotwire) over push-rs: build ``<turbo-stream>`` fragments, publish them to
channels, and render the ``<turbo-stream-source>`` tag a page subscribes with::

    import push.turbo

    push.turbo.append(to="/rooms/1", target="messages", html=render("message.html", m=message))
    push.turbo.remove(to="/rooms/1", target=f"message_{message.id}")
    await push.turbo.append_async(to="/rooms/1", target="messages", html=rendered)   # asyncio

    push.turbo.stream_source_tag("/rooms/1")     # in the page: Turbo subscribes with a signed token
    # -> '<turbo-stream-source src="http://127.0.0.1:4000/rooms/1?gap=turbo-refresh&amp;token=push1...."></turbo-stream-source>'

Every message is a fragment Turbo applies as it arrives (``text/vnd.turbo-stream.html``, a plain
SSE ``message`` event). A gap (messages the server no longer holds when a browser comes back) is
announced to the tag's stream as a ``refresh`` action: Turbo 8 reloads the page.

The same names and outputs as ``Push::Turbo`` (Ruby) and ``turbo`` (Node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Literal, Optional, Tuple, Union, get_args

from push._html import SafeHTML, escape, producer_of, subscribe_url
from push._push import Producer

if TYPE_CHECKING:
    from push import Channels
    from push.aio import AsyncProducer

__all__ = [
    "Action",
    "ACTIONS",
    "CONTENT_TYPE",
    "SafeHTML",
    "stream",
    "broadcast",
    "broadcast_async",
    "append",
    "prepend",
    "replace",
    "update",
    "remove",
    "before",
    "after",
    "refresh",
    "append_async",
    "prepend_async",
    "replace_async",
    "update_async",
    "remove_async",
    "before_async",
    "after_async",
    "refresh_async",
    "stream_source_tag",
]

#: A Turbo Stream action. (A Union of one-value Literals, the same type as one Literal of all
#: eight, spelled so that the runtime object is a Union too, as mypy.stubtest checks.)
Action = Union[
    Literal["append"],
    Literal["prepend"],
    Literal["replace"],
    Literal["update"],
    Literal["remove"],
    Literal["before"],
    Literal["after"],
    Literal["refresh"],
]

#: The actions, in Turbo's documentation order.
ACTIONS: Tuple[str, ...] = tuple(get_args(literal)[0] for literal in get_args(Action))

#: The content type of a published fragment (Turbo's MIME type for streams).
CONTENT_TYPE = "text/vnd.turbo-stream.html"

_ALLOWED = ", ".join(ACTIONS)


def _check_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name}= must be a str, not {type(value).__name__}")


def stream(
    action: Action,
    *,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    request_id: Optional[str] = None,
) -> SafeHTML:
    """The ``<turbo-stream>`` fragment of one action, as a :class:`SafeHTML` str::

        stream("append", target="messages", html="<li>hi</li>")
        # '<turbo-stream action="append" target="messages"><template><li>hi</li></template></turbo-stream>'
        stream("remove", target="m1")      # '<turbo-stream action="remove" target="m1"></turbo-stream>'
        stream("refresh")                  # '<turbo-stream action="refresh"></turbo-stream>'

    - ``action``: append, prepend, replace, update, remove, before, after or refresh.
    - ``target`` (an element id) or ``targets`` (a CSS selector): exactly one, for every action
      but refresh (which takes neither).
    - ``html`` (markup the app rendered, inserted as is inside ``<template>``) or ``text``
      (HTML-escaped first): exactly one for append, prepend, replace, update, before and after
      (``""`` is allowed); remove and refresh take neither.
    - ``method="morph"``: replace and update only (Turbo 8 morphs instead of replacing).
    - ``request_id``: refresh only (its ``request-id`` attribute: Turbo ignores a refresh that
      its own request caused).

    Attributes are written in this order (action, target or targets, method, request-id), their
    values escaped (``& < > " '``). Raises ``ValueError`` for input that breaks these rules (and
    an empty ``target``, ``targets`` or ``request_id``), with a message saying what the action
    takes; ``TypeError`` for a value that is not a ``str``.
    """
    for name, value in (("target", target), ("targets", targets), ("html", html), ("text", text), ("method", method), ("request_id", request_id)):
        _check_str(name, value)
    if action not in ACTIONS:
        raise ValueError(f"unknown Turbo Stream action {action!r}: use one of {_ALLOWED}")
    attributes: List[Tuple[str, str]] = [("action", action)]

    if action == "refresh":
        if target is not None or targets is not None:
            raise ValueError("refresh takes no target= or targets=: it reloads the whole page")
    else:
        if request_id is not None:
            raise ValueError(f"request_id= is for refresh only, not {action}")
        if target is not None and targets is not None:
            raise ValueError(f"{action} takes one of target= (an element id) or targets= (a CSS selector), not both")
        if target is None and targets is None:
            raise ValueError(f"{action} needs target= (an element id) or targets= (a CSS selector)")
        if target is not None:
            if not target:
                raise ValueError(f"{action}'s target= is empty: give an element id")
            attributes.append(("target", target))
        elif targets is not None:
            if not targets:
                raise ValueError(f"{action}'s targets= is empty: give a CSS selector")
            attributes.append(("targets", targets))

    if method is not None:
        if action not in ("replace", "update"):
            raise ValueError(f"method= is for replace and update only, not {action}")
        if method != "morph":
            raise ValueError(f"method={method!r} is not a Turbo Stream method: use 'morph' (or leave it out)")
        attributes.append(("method", method))
    if request_id is not None:
        if not request_id:
            raise ValueError("refresh's request_id= is empty: give the id of the request that caused it, or None")
        attributes.append(("request-id", request_id))

    if action in ("remove", "refresh"):
        if html is not None or text is not None:
            raise ValueError(f"{action} takes no content: leave out html= and text=")
        content = ""
    else:
        if html is not None and text is not None:
            raise ValueError(f"{action} takes one of html= (markup, inserted as is) or text= (escaped), not both")
        if html is None and text is None:
            raise ValueError(f"{action} needs its content: html= (markup, inserted as is) or text= (escaped); '' is allowed")
        content = "<template>" + (html if html is not None else escape(text or "")) + "</template>"

    opening = "".join(f' {name}="{escape(value)}"' for name, value in attributes)
    return SafeHTML(f"<turbo-stream{opening}>{content}</turbo-stream>")


def broadcast(
    action: Action,
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    request_id: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Publishes :func:`stream`'s fragment to ``to`` (a channel, or several: one message with one
    id on all of them) as ``text/vnd.turbo-stream.html``; returns the message id.

    ``producer``: the :class:`push.Producer` to publish with, default :func:`push.default_producer`
    (``PUSH_URL``, ``PUSH_PUBLISH_KEY``). ``idempotency_key``: as for any publish. The fragment is
    built (and checked: ``ValueError``) before anything is sent; the publish raises what any
    publish does (``push.InvalidChannelError``, ``push.UnauthorizedError``, ...). Blocks this
    thread only (the GIL is released); in a coroutine use :func:`broadcast_async`.
    """
    fragment = stream(action, target=target, targets=targets, html=html, text=text, method=method, request_id=request_id)
    return producer_of(producer).publish(str(fragment), CONTENT_TYPE, idempotency_key=idempotency_key).to(to)


async def broadcast_async(
    action: Action,
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    request_id: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`broadcast` without blocking the running event loop; ``producer`` may also be a
    :class:`push.AsyncProducer`."""
    fragment = stream(action, target=target, targets=targets, html=html, text=text, method=method, request_id=request_id)
    return await producer_of(producer).publish(str(fragment), CONTENT_TYPE, idempotency_key=idempotency_key).to_async(to)


# One short form per action (like turbo-rails' broadcast_append_to), and its asyncio twin.


def append(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Appends ``html`` (or escaped ``text``) to the end of ``target``'s (or each ``targets``')
    children: ``broadcast("append", ...)``."""
    return broadcast("append", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key)


def prepend(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Inserts the content before the target's first child: ``broadcast("prepend", ...)``."""
    return broadcast("prepend", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key)


def replace(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Replaces the target element itself (``method="morph"``: morphs it): ``broadcast("replace", ...)``."""
    return broadcast(
        "replace", to=to, target=target, targets=targets, html=html, text=text, method=method, producer=producer, idempotency_key=idempotency_key
    )


def update(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Replaces the target's content (``method="morph"``: morphs it): ``broadcast("update", ...)``."""
    return broadcast(
        "update", to=to, target=target, targets=targets, html=html, text=text, method=method, producer=producer, idempotency_key=idempotency_key
    )


def remove(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Removes the target element(s): ``broadcast("remove", ...)``."""
    return broadcast("remove", to=to, target=target, targets=targets, producer=producer, idempotency_key=idempotency_key)


def before(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Inserts the content before the target element: ``broadcast("before", ...)``."""
    return broadcast("before", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key)


def after(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Inserts the content after the target element: ``broadcast("after", ...)``."""
    return broadcast("after", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key)


def refresh(
    *,
    to: Channels,
    request_id: Optional[str] = None,
    producer: Optional[Producer] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """Tells the pages to reload (Turbo 8; morphs when the page asks for it): ``broadcast("refresh", ...)``."""
    return broadcast("refresh", to=to, request_id=request_id, producer=producer, idempotency_key=idempotency_key)


async def append_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`append` without blocking the running event loop."""
    return await broadcast_async(
        "append", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key
    )


async def prepend_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`prepend` without blocking the running event loop."""
    return await broadcast_async(
        "prepend", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key
    )


async def replace_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`replace` without blocking the running event loop."""
    return await broadcast_async(
        "replace", to=to, target=target, targets=targets, html=html, text=text, method=method, producer=producer, idempotency_key=idempotency_key
    )


async def update_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    method: Optional[Literal["morph"]] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`update` without blocking the running event loop."""
    return await broadcast_async(
        "update", to=to, target=target, targets=targets, html=html, text=text, method=method, producer=producer, idempotency_key=idempotency_key
    )


async def remove_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`remove` without blocking the running event loop."""
    return await broadcast_async("remove", to=to, target=target, targets=targets, producer=producer, idempotency_key=idempotency_key)


async def before_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`before` without blocking the running event loop."""
    return await broadcast_async(
        "before", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key
    )


async def after_async(
    *,
    to: Channels,
    target: Optional[str] = None,
    targets: Optional[str] = None,
    html: Optional[str] = None,
    text: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`after` without blocking the running event loop."""
    return await broadcast_async(
        "after", to=to, target=target, targets=targets, html=html, text=text, producer=producer, idempotency_key=idempotency_key
    )


async def refresh_async(
    *,
    to: Channels,
    request_id: Optional[str] = None,
    producer: Union[Producer, AsyncProducer, None] = None,
    idempotency_key: Optional[str] = None,
) -> str:
    """:func:`refresh` without blocking the running event loop."""
    return await broadcast_async("refresh", to=to, request_id=request_id, producer=producer, idempotency_key=idempotency_key)


def stream_source_tag(
    channel: str,
    *,
    consumer: Optional[str] = None,
    expires_in: Optional[int] = None,
    token: bool = True,
    secret: Union[str, bytes, None] = None,
    url: Optional[str] = None,
    gap: Optional[Literal["event", "turbo-refresh"]] = "turbo-refresh",
) -> SafeHTML:
    """The ``<turbo-stream-source src="URL"></turbo-stream-source>`` tag a page subscribes to
    ``channel`` with: Turbo connects an EventSource to ``URL`` and applies every fragment that
    arrives. ``URL`` is :func:`push.subscribe_url` (same options) with ``gap="turbo-refresh"`` by
    default, so a gap reloads the page; it is escaped for the attribute. A :class:`SafeHTML`:
    Jinja2 and Django insert it as is. Raises what :func:`push.subscribe_url` raises."""
    src = subscribe_url(channel, consumer=consumer, expires_in=expires_in, token=token, secret=secret, url=url, gap=gap)
    return SafeHTML(f'<turbo-stream-source src="{escape(src)}"></turbo-stream-source>')
