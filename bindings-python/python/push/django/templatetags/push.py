"""``{% load push %}``: ``{% push_turbo_stream_from channel ... %}`` and
``{% push_sse_attributes channel ... %}``, with :func:`push.turbo.stream_source_tag`'s and
:func:`push.htmx.sse_attributes`'s options as keyword arguments (``consumer=request.user.pk``
is written with ``str()``). Both give :class:`push.SafeHTML`, which autoescaping leaves as is."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from django import template

from push import _templates
from push._html import SafeHTML

register = template.Library()


@register.simple_tag
def push_turbo_stream_from(
    channel: str,
    *,
    consumer: Any = None,
    expires_in: Optional[int] = None,
    token: bool = True,
    secret: Union[str, bytes, None] = None,
    url: Optional[str] = None,
    gap: Optional[Literal["event", "turbo-refresh"]] = "turbo-refresh",
) -> SafeHTML:
    """``<turbo-stream-source src="...">`` subscribing the page to ``channel``."""
    return _templates.push_turbo_stream_from(channel, consumer=consumer, expires_in=expires_in, token=token, secret=secret, url=url, gap=gap)


@register.simple_tag
def push_sse_attributes(
    channel: str,
    *,
    consumer: Any = None,
    expires_in: Optional[int] = None,
    token: bool = True,
    secret: Union[str, bytes, None] = None,
    url: Optional[str] = None,
    gap: Optional[Literal["event", "turbo-refresh"]] = None,
) -> SafeHTML:
    """``hx-ext="sse" sse-connect="..."`` subscribing an element to ``channel``."""
    return _templates.push_sse_attributes(channel, consumer=consumer, expires_in=expires_in, token=token, secret=secret, url=url, gap=gap)
