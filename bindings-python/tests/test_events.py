"""push.verify_events: the shared known signature, a request signed here with the standard
library's hmac (docs/PRESENCE.md's format, so any sender can be checked), and every refusal."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import json
import time
from typing import Dict, List, Optional, Tuple, Union

import pytest

import push

SECRET = "s3cret"
BODY = b'{"events":[{"id":"e1","name":"member_left","channel":"/presence-lobby","consumer":"alice","time_ms":1}]}'
KNOWN = "t=2000000000,v1=831e7358c2d4915f2e9ec13c7b37394411f4e7afcf43792ab2099b758093fa41"
UTC = datetime.timezone.utc


def signature(body: bytes, *, at: Optional[int] = None, secret: str = SECRET) -> str:
    """The Push-Signature header for `body` signed at `at` (default now), with hmac only."""
    at = int(time.time()) if at is None else at
    return f"t={at},v1=" + hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_known_signature() -> None:
    assert signature(BODY, at=2_000_000_000) == KNOWN
    # Signed in 2033: far from now, so only a tolerance that wide accepts it.
    events = push.verify_events(BODY, KNOWN, secret=SECRET, tolerance=10**10)
    assert events == [push.Event("e1", "member_left", "/presence-lobby", "alice", None, None, datetime.datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC))]
    assert isinstance(events[0], push.Event)
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].name = "x"  # type: ignore[misc]
    with pytest.raises(push.UnauthorizedError, match="2000000000"):
        push.verify_events(BODY, KNOWN, secret=SECRET)


def test_a_request_signed_with_the_standard_library() -> None:
    body = json.dumps(
        {
            "events": [
                {"id": "a", "name": "member_joined", "channel": "/presence-lobby", "consumer": "alice", "info": {"name": "Zoë", "n": [1, 2]}, "time_ms": 1_764_870_000_123},
                {"id": "b", "name": "undelivered", "channel": "/presence-lobby", "consumer": "bob", "message_id": "18446744073709551615", "time_ms": 1_764_870_000_124},
                {"id": "c", "name": "consumer_disconnected", "consumer": "carol", "time_ms": 1_764_870_000_125},
                {"id": "d", "name": "channel_vacated", "channel": "/presence-x", "time_ms": 1_764_870_000_126},
            ]
        },
        ensure_ascii=False,
    ).encode()
    events = push.verify_events(body, signature(body), secret=SECRET)
    assert [e.id for e in events] == ["a", "b", "c", "d"]
    joined, undelivered, gone, vacated = events
    assert joined.info == {"name": "Zoë", "n": [1, 2]}
    assert joined.time == datetime.datetime(2025, 12, 4, 17, 40, 0, 123000, tzinfo=UTC)
    assert (undelivered.consumer, undelivered.message_id, undelivered.info) == ("bob", "18446744073709551615", None)
    assert (gone.channel, gone.consumer) == (None, "carol")
    assert (vacated.channel, vacated.consumer) == ("/presence-x", None)
    # The body as text (sent as UTF-8), bytearray or memoryview verifies the same; so does a bytes secret.
    same: List[Union[str, bytearray, memoryview]] = [body.decode(), bytearray(body), memoryview(body)]
    for each in same:
        assert push.verify_events(each, signature(body), secret=SECRET) == events
    assert push.verify_events(body, signature(body), secret=SECRET.encode()) == events
    assert push.verify_events(b'{"events":[]}', signature(b'{"events":[]}'), secret=SECRET) == []


def test_the_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    header = signature(BODY)
    with pytest.raises(push.InvalidConfigError, match="PUSH_EVENTS_SECRET"):
        push.verify_events(BODY, header)  # conftest cleared PUSH_*
    monkeypatch.setenv("PUSH_SECRET", SECRET)
    assert [e.id for e in push.verify_events(BODY, header)] == ["e1"]
    # PUSH_EVENTS_SECRET comes first.
    monkeypatch.setenv("PUSH_EVENTS_SECRET", "events-only")
    with pytest.raises(push.UnauthorizedError):
        push.verify_events(BODY, header)
    assert [e.id for e in push.verify_events(BODY, signature(BODY, secret="events-only"))] == ["e1"]
    with pytest.raises(push.InvalidConfigError, match="empty"):
        push.verify_events(BODY, header, secret="")


def test_refusals() -> None:
    now = int(time.time())
    header = signature(BODY)
    refused: Dict[str, Tuple[bytes, Optional[str]]] = {
        "no header": (BODY, None),
        "another secret": (BODY, signature(BODY, secret="other")),
        "a changed body": (BODY.replace(b"alice", b"mallory"), header),
        "too old": (BODY, signature(BODY, at=now - 301)),
        "from the future": (BODY, signature(BODY, at=now + 301)),
        "no timestamp": (BODY, header.split(",", 1)[1]),
        "no v1": (BODY, header.split(",", 1)[0]),
        "garbage": (BODY, "garbage"),
        "empty": (BODY, ""),
    }
    for what, (body, sig) in refused.items():
        with pytest.raises(push.UnauthorizedError) as caught:
            push.verify_events(body, sig, secret=SECRET)
        assert (caught.value.code, caught.value.status) == ("UNAUTHORIZED", None), what
    with pytest.raises(push.UnauthorizedError, match="Push-Signature"):
        push.verify_events(BODY, None, secret=SECRET)
    # Within a wider tolerance; or any v1 of several (a server rolling its secret signs with both).
    assert push.verify_events(BODY, signature(BODY, at=now - 301), secret=SECRET, tolerance=400)
    rolled = signature(BODY, secret="old") + ",v1=" + header.split("v1=")[1]
    assert push.verify_events(BODY, rolled, secret=SECRET)

    # Signed but not a batch: from the server, but not events.
    for body in [b"{}", b'{"x":1}', b"[]", b"not json", b'{"events":[{"id":"e"}]}']:
        with pytest.raises(push.BadRequestError):
            push.verify_events(body, signature(body), secret=SECRET)


def test_argument_types() -> None:
    header = signature(BODY)
    with pytest.raises(push.InvalidConfigError, match="tolerance"):
        push.verify_events(BODY, header, secret=SECRET, tolerance=-1)
    bad_bodies: List[object] = [None, 12, ["x"]]
    for body in bad_bodies:
        with pytest.raises(TypeError, match="body"):
            push.verify_events(body, header, secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        push.verify_events(BODY, 12, secret=SECRET)  # type: ignore[arg-type]
    bad_secrets: List[object] = [12, bytearray(b"k")]
    for secret in bad_secrets:
        with pytest.raises(TypeError):
            push.verify_events(BODY, header, secret=secret)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        push.verify_events(BODY, header, SECRET)  # type: ignore[call-arg]
