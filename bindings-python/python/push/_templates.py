"""The template functions behind ``push.jinja`` and ``push.django``'s tags: the Turbo tag and
the htmx attributes, with what a template passes (``consumer`` as any value: an integer primary
key is written with ``str()``)."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from push import htmx, turbo
from push._html import SafeHTML

__all__ = ["push_turbo_stream_from", "push_sse_attributes"]


def _consumer(consumer: Any) -> Optional[str]:
    # A template passes what its context holds, often an integer primary key.
    return None if consumer is None else str(consumer)


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
    """:func:`push.turbo.stream_source_tag` for a template (``consumer`` may be any value: it is
    written with ``str()``)."""
    return turbo.stream_source_tag(channel, consumer=_consumer(consumer), expires_in=expires_in, token=token, secret=secret, url=url, gap=gap)


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
    """:func:`push.htmx.sse_attributes` for a template (``consumer`` may be any value: it is
    written with ``str()``)."""
    return htmx.sse_attributes(channel, consumer=_consumer(consumer), expires_in=expires_in, token=token, secret=secret, url=url, gap=gap)
