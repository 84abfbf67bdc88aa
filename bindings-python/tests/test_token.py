"""push.Token.sign: subscriber tokens signed by sdk-core, checked against the documented test
vector, `push-server token`, a standard-library mint, and a real server with --auth token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Dict, List, Optional, Tuple, Union

import pytest

import push
from conftest import PUSH_SERVER, VECTOR, Server



def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def stdlib_token(secret: bytes, channel: str, consumer: Optional[str], expires_at: int) -> str:
    """The format of docs/AUTH.md and sdk-core's token.rs, with the standard library only."""
    body = "push1." + b64url(f"{channel}\n{consumer or ''}\n{expires_at}".encode())
    return body + "." + b64url(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def claims_of(token: str) -> Tuple[str, str, int]:
    """(channel, consumer, expires_at) read back from a token's body."""
    prefix, encoded, _signature = token.split(".")
    assert prefix == "push1"
    channel, consumer, expiry = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode().split("\n")
    return channel, consumer, int(expiry)


def cli_token(*args: str, secret: Optional[str] = None) -> str:
    """`push-server [args...]`'s output; `secret` goes in PUSH_SECRET. (`--secret` is an option
    of push-server itself, so it goes before the `token` subcommand.)"""
    env = {"PATH": "/usr/bin:/bin", **({"PUSH_SECRET": secret} if secret is not None else {})}
    out = subprocess.run([PUSH_SERVER, *args], env=env, capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


# docs/PRESENCE.md's vector: info rides on a fourth line of the claims, as compact JSON.
INFO_VECTOR = "push1.L3ByZXNlbmNlLWxvYmJ5CmFsaWNlCjIwMDAwMDAwMDAKeyJuYW1lIjoiQWxpY2UifQ.EevWok3FQiooG8ioVSnkFJLSGN2fD_BlBXcWzmdsbWY"


def test_info_known_answer() -> None:
    token = push.Token.sign("/presence-lobby", consumer="alice", expires_at=2_000_000_000, secret="s3cret", info={"name": "Alice"})
    assert token == INFO_VECTOR
    body, _, _ = token.rpartition(".")
    claims = base64.urlsafe_b64decode(body.split(".")[1] + "==").decode()
    assert claims == '/presence-lobby\nalice\n2000000000\n{"name":"Alice"}'
    # The standard library's HMAC over the same body: the same token.
    assert token == body + "." + b64url(hmac.new(b"s3cret", body.encode(), hashlib.sha256).digest())
    # Compact, non-ASCII as is (Ruby's JSON.generate and JSON.stringify write the same text).
    nested = push.Token.sign("/p", consumer="c", expires_at=1, secret="k", info={"name": "Zoë", "tags": ["a", 1, None, True], "n": {"x": 1.5}})
    line = base64.urlsafe_b64decode(nested.split(".")[1] + "==").decode().split("\n")[3]
    assert line == '{"name":"Zoë","tags":["a",1,null,true],"n":{"x":1.5}}'
    # No info: the three-line token of before.
    assert push.Token.sign("/rooms/*", consumer="alice", expires_at=2_000_000_000, secret="s3cret", info=None) == VECTOR


def test_bad_info() -> None:
    with pytest.raises(push.InvalidConfigError, match="consumer"):
        push.Token.sign("/a", secret="k", info={"name": "x"})
    with pytest.raises(push.InvalidConfigError, match="1024"):
        push.Token.sign("/a", consumer="c", secret="k", info={"text": "x" * 1100})
    with pytest.raises(push.InvalidConfigError):
        push.Token.sign("/a", consumer="c", secret="k", info={"x": float("nan")})  # NaN is no JSON
    not_dicts: List[object] = [[1, 2], '{"name":"Alice"}', 42]
    for info in not_dicts:
        with pytest.raises(TypeError):
            push.Token.sign("/a", consumer="c", secret="k", info=info)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        push.Token.sign("/a", consumer="c", secret="k", info={"when": object()})


def test_the_documented_test_vector() -> None:
    token = push.Token.sign("/rooms/*", consumer="alice", expires_at=2_000_000_000, secret="s3cret")
    assert token == VECTOR
    # The same with the secret as bytes, and with every argument by keyword (as in docs/AUTH.md).
    assert push.Token.sign("/rooms/*", consumer="alice", expires_at=2_000_000_000, secret=b"s3cret") == VECTOR
    assert push.Token.sign(channel="/rooms/*", consumer="alice", expires_at=2_000_000_000, secret="s3cret") == VECTOR


CASES = [
    ("s3cret", "/rooms/*", "alice", 2_000_000_000),
    ("s3cret", "/rooms/42", None, 1_900_000_000),
    ("another secret", "/*", "user-7@example.com", 4_102_444_800),
    ("sécret ✓", "/a/b/c", None, 0),
]


@pytest.mark.parametrize("secret, channel, consumer, expires_at", CASES)
def test_same_token_as_push_server_token_and_the_standard_library(secret: str, channel: str, consumer: Optional[str], expires_at: int) -> None:
    token = push.Token.sign(channel, consumer=consumer, expires_at=expires_at, secret=secret)
    args = ["token", "--channel", channel, "--expires-at", str(expires_at)] + (["--consumer", consumer] if consumer else [])
    assert token == cli_token(*args, secret=secret)
    assert token == cli_token("--secret", secret, *args)
    assert token == stdlib_token(secret.encode(), channel, consumer, expires_at)
    assert claims_of(token) == (channel, consumer or "", expires_at)


def test_a_binary_secret_is_used_as_is() -> None:
    secret = bytes(range(256))
    token = push.Token.sign("/bin", expires_at=2_000_000_000, secret=secret)
    assert token == stdlib_token(secret, "/bin", None, 2_000_000_000)


def test_expires_in_counts_from_now() -> None:
    before = int(time.time())
    default = push.Token.sign("/a", secret="k")  # sdk-core's default expiry: an hour
    explicit_none = push.Token.sign("/a", expires_in=None, secret="k")
    short = push.Token.sign("/a", expires_in=60, secret="k")
    zero = push.Token.sign("/a", expires_in=0, secret="k")
    after = int(time.time())
    assert before + 3600 <= claims_of(default)[2] <= after + 3600
    assert before + 3600 <= claims_of(explicit_none)[2] <= after + 3600
    assert before + 60 <= claims_of(short)[2] <= after + 60
    assert before <= claims_of(zero)[2] <= after
    # expires_at wins over expires_in; the result is the same as with expires_at alone.
    both = push.Token.sign("/a", expires_in=60, expires_at=2_000_000_000, secret="k")
    assert both == push.Token.sign("/a", expires_at=2_000_000_000, secret="k")


def test_the_secret_comes_from_push_secret_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_SECRET", "s3cret")
    assert push.Token.sign("/rooms/*", consumer="alice", expires_at=2_000_000_000) == VECTOR
    # An explicit secret is used instead of the environment.
    assert push.Token.sign("/rooms/*", consumer="alice", expires_at=2_000_000_000, secret="other") != VECTOR
    monkeypatch.setenv("PUSH_SECRET", "other")  # read on every call
    assert push.Token.sign("/rooms/*", consumer="alice", expires_at=2_000_000_000) != VECTOR


def test_missing_or_empty_secret_is_invalid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(push.InvalidConfigError, match="PUSH_SECRET") as caught:
        push.Token.sign("/a")  # PUSH_SECRET is unset (conftest)
    assert caught.value.code == "INVALID_CONFIG" and caught.value.status is None
    assert isinstance(caught.value, ValueError) and not caught.value.retryable
    empties: List[Union[str, bytes]] = ["", b""]
    for empty in empties:
        with pytest.raises(push.InvalidConfigError, match="empty"):
            push.Token.sign("/a", secret=empty)
    monkeypatch.setenv("PUSH_SECRET", "")
    with pytest.raises(push.InvalidConfigError, match="empty"):
        push.Token.sign("/a")


def test_bad_channels_are_invalid_channel() -> None:
    for bad in ["rooms", "", "/a//b", "/a/../b", "/rooms/*/x", "rooms/*", "/sp ace", "/*/*"]:
        with pytest.raises(push.InvalidChannelError) as caught:
            push.Token.sign(bad, secret="k")
        assert caught.value.code == "INVALID_CHANNEL", bad
        assert isinstance(caught.value, ValueError)


def test_bad_consumers_and_expiries_are_invalid_config() -> None:
    bad: Dict[str, Callable[[], str]] = {
        "empty consumer": lambda: push.Token.sign("/a", consumer="", secret="k"),
        "two-line consumer": lambda: push.Token.sign("/a", consumer="a\nb", secret="k"),
        "negative expires_in": lambda: push.Token.sign("/a", expires_in=-1, secret="k"),
        "negative expires_at": lambda: push.Token.sign("/a", expires_at=-1, secret="k"),
    }
    for name, sign in bad.items():
        with pytest.raises(push.InvalidConfigError):
            sign()
            pytest.fail(name)


def test_wrong_argument_types_are_type_errors() -> None:
    calls: Dict[str, Callable[[], object]] = {
        "int secret": lambda: push.Token.sign("/a", secret=1),  # type: ignore[arg-type]
        "bytearray secret": lambda: push.Token.sign("/a", secret=bytearray(b"k")),  # type: ignore[arg-type]
        "None channel": lambda: push.Token.sign(None, secret="k"),  # type: ignore[arg-type]
        "float expires_in": lambda: push.Token.sign("/a", expires_in=1.5, secret="k"),  # type: ignore[arg-type]
        "consumer by position": lambda: push.Token.sign("/a", "alice"),  # type: ignore[call-arg]
        "an instance": lambda: push.Token(),  # no constructor
    }
    for name, call in calls.items():
        with pytest.raises(TypeError):
            call()
            pytest.fail(name)


def get(server: Server, channel: str, headers: Optional[Dict[str, str]] = None, **params: str) -> Tuple[int, str]:
    """A long-poll that answers at once (`timeout=0`): (status, Push-Error code or "")."""
    query = urllib.parse.urlencode({**params, "timeout": "0"})
    request = urllib.request.Request(f"{server.url}{channel}?{query}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, ""
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers.get("Push-Error", "")


def test_a_python_token_opens_a_server_with_auth_token(start_server: Callable[..., Server]) -> None:
    server = start_server(auth="token", secret="s3cret")

    def sign(channel: str, *, secret: Union[str, bytes] = "s3cret", expires_in: int = 60, expires_at: Optional[int] = None) -> str:
        return push.Token.sign(channel, expires_in=expires_in, expires_at=expires_at, secret=secret)

    room = sign("/rooms/42")
    assert get(server, "/rooms/42", token=room) == (204, "")
    assert get(server, "/rooms/42", headers={"Authorization": f"Bearer {room}"}) == (204, "")
    assert get(server, "/rooms/42") == (401, "UNAUTHORIZED")
    assert get(server, "/rooms/43", token=room) == (403, "FORBIDDEN")
    # Expired: absolute expiry in the past, or expires_in=0 (the server refuses at the second).
    assert get(server, "/rooms/42", token=sign("/rooms/42", expires_at=int(time.time()) - 1)) == (401, "UNAUTHORIZED")
    assert get(server, "/rooms/42", token=sign("/rooms/42", expires_in=0)) == (401, "UNAUTHORIZED")
    # Signed with another secret.
    assert get(server, "/rooms/42", token=sign("/rooms/42", secret=b"wrong")) == (401, "UNAUTHORIZED")
    # A pattern covers what is below it, not the prefix itself.
    rooms = sign("/rooms/*")
    assert get(server, "/rooms/1/chat", token=rooms) == (204, "")
    assert get(server, "/rooms", token=rooms) == (403, "FORBIDDEN")
    # The documented test vector (expires in 2033) is accepted for its consumer only.
    assert get(server, "/rooms/7", token=VECTOR, consumer="alice") == (204, "")
    assert get(server, "/rooms/7", token=VECTOR, headers={"Consumer-Id": "alice"}) == (204, "")
    assert get(server, "/rooms/7", token=VECTOR) == (403, "FORBIDDEN")
    assert get(server, "/rooms/7", token=VECTOR, consumer="bob") == (403, "FORBIDDEN")


def test_a_token_carries_a_message_to_its_subscriber(start_server: Callable[..., Server]) -> None:
    server = start_server(auth="token", secret="sécret ✓")
    cursor = push.Producer(server.url).publish("for the token holder").to("/news")
    # The cursor is the marker itself: read it back as the message after the one before it.
    token = push.Token.sign("/news", expires_in=60, secret="sécret ✓")
    query = urllib.parse.urlencode({"token": token, "after": "0", "timeout": "0"})
    with urllib.request.urlopen(f"{server.url}/news?{query}", timeout=10) as r:
        assert (r.status, r.read(), r.headers["Push-Id"]) == (200, b"for the token holder", cursor)
