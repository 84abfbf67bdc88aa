"""The server API's answers (docs/PROTOCOL.md, "Server API") and the server's events
(docs/PRESENCE.md), as frozen dataclasses.

The compiled module builds them from sdk-core's (``src/answers.rs``, ``src/events.rs``): ids are
``str`` (as a publish returns them), times are UTC :class:`datetime.datetime`, payloads ``bytes``,
a member's or an event's ``info`` the ``dict`` that ``json.loads`` gives.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

if TYPE_CHECKING:
    from push._push import Producer

__all__ = ["ChannelInfo", "ChannelPage", "Presence", "Member", "History", "HistoryMessage", "Gap", "Disconnected", "Event"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _from_ms(ms: int) -> _dt.datetime:
    # Exact to the millisecond, which fromtimestamp(ms / 1000) is not always.
    return _EPOCH + _dt.timedelta(milliseconds=ms)


@dataclass(frozen=True)
class ChannelInfo:
    """What a channel holds and who is connected to it (``push.channel(name).info()``).

    ``connections``: subscriber connections open on it now (a multiplexed one counts on each of
    its channels); ``consumers``: distinct consumer ids among them (per node, summed);
    ``last_id``: the newest message its history holds (``None``: none); ``history``: how many it
    holds; ``nodes``: how many nodes the counts come from; ``as_of``: when the oldest count was
    taken.
    """

    channel: str
    connections: int
    consumers: int
    last_id: Optional[str]
    history: int
    nodes: int
    as_of: _dt.datetime


@dataclass(frozen=True)
class Member:
    """A consumer present on a channel: its consumer id, and the public ``info`` its token carried
    (``Token.sign(..., info={"name": "Alice"})``), or ``None`` without one."""

    consumer: str
    info: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class Presence:
    """Who is present on a presence channel (``push.channel("/presence-lobby").presence()``), each
    consumer once however many connections and nodes it has.

    ``members``: in consumer id order, at most 1000; ``count``: how many there are (more than
    ``members`` holds when the list was cut); ``nodes``: how many nodes the list comes from;
    ``as_of``: when the oldest part of it was taken.
    """

    channel: str
    members: List[Member]
    count: int
    nodes: int
    as_of: _dt.datetime


@dataclass(frozen=True)
class ChannelPage:
    """One page of the active channels, in name order; ``next`` is the ``after=`` of the next
    page, ``None`` on the last one."""

    channels: List[ChannelInfo]
    next: Optional[str]
    nodes: int
    as_of: _dt.datetime


@dataclass(frozen=True)
class HistoryMessage:
    """A message of a channel's history. ``channel`` is the channel asked about; ``channels`` is
    not empty for a message published to several channels, and names those of them the read
    covers (a history read covers one channel: ``[channel]``), as a subscriber's frame does."""

    id: str
    channel: str
    channels: List[str]
    data: bytes
    content_type: str
    event: Optional[str]
    time: _dt.datetime

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (``UnicodeDecodeError`` for binary data)."""
        return self.data.decode("utf-8")


@dataclass(frozen=True)
class Gap:
    """Messages of ``channel`` with ids from ``from_`` to ``to`` (inclusive) may be gone."""

    channel: str
    from_: str
    to: str


@dataclass(frozen=True)
class History:
    """Messages of a channel's history, oldest first, and the gaps before them. ``last_id`` is
    the cursor to read on from (``history(after=h.last_id)``; ``None`` when nothing is held);
    ``more``: the limit cut the answer."""

    messages: List[HistoryMessage]
    gaps: List[Gap]
    last_id: Optional[str]
    more: bool


@dataclass(frozen=True)
class Disconnected:
    """What a disconnect did: ``disconnected`` connections ended on the node that answered (the
    others end theirs as the command reaches them); ``ban_until``: when the ban ends, or ``None``."""

    consumer: str
    channel: Optional[str]
    disconnected: int
    ban_until: Optional[_dt.datetime]


@dataclass(frozen=True)
class Event:
    """One event the server sent to the app's ``--events-url`` (``push.verify_events``).

    ``id``: the same on every retry of it (act on an id once); ``name``: ``channel_occupied``,
    ``channel_vacated``, ``member_joined``, ``member_left``, ``consumer_connected``,
    ``consumer_disconnected`` or ``undelivered``; ``channel``: ``None`` for the ``consumer_*``
    events; ``consumer``: ``None`` for the ``channel_*`` ones; ``info``: the member's public info
    (``member_*``); ``message_id``: the message the consumer did not get (``undelivered``);
    ``time``: when it happened.
    """

    id: str
    name: str
    channel: Optional[str]
    consumer: Optional[str]
    info: Optional[Dict[str, Any]]
    message_id: Optional[str]
    time: _dt.datetime


def _iter_channels(producer: Producer, prefix: Optional[str], limit: Optional[int]) -> Iterator[ChannelInfo]:
    # Producer.iter_channels: follows `next` one page at a time.
    after: Optional[str] = None
    while True:
        page = producer.channels(prefix, after=after, limit=limit)
        yield from page.channels
        if page.next is None:
            return
        after = page.next
