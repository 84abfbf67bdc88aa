"""The exceptions of push-rs.

Every failure has a stable ``code`` (the same in every push-rs language and in the
server's ``Push-Error`` header). The compiled module raises the subclass for the code
(see ``src/errors.rs``); codes it does not know yet raise :class:`PushError` itself.
"""

from __future__ import annotations

import builtins
from typing import Any, Optional

__all__ = [
    "PushError",
    "InvalidChannel",
    "InvalidCursor",
    "InvalidConfig",
    "PayloadTooLarge",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "ConnectionError",
    "Timeout",
    "ServerError",
    "TooManyConnections",
]

_RETRYABLE = frozenset({"CONNECTION_FAILED", "TIMEOUT", "SERVER_ERROR", "TOO_MANY_CONNECTIONS"})


class PushError(Exception):
    """Base class of every push-rs error.

    ``code`` is the stable error code (e.g. ``"INVALID_CHANNEL"``), ``status`` the HTTP
    status the server answered with (``None`` when the error did not come from a response),
    and ``retryable`` says whether the same call may succeed if tried again later.
    """

    code: str = "PUSH_ERROR"
    status: Optional[int]

    def __init__(self, message: str = "", code: Optional[str] = None, status: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def retryable(self) -> bool:
        return self.code in _RETRYABLE

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Survives pickling (multiprocessing, concurrent.futures) with its code and status.
        return (type(self), (self.message, self.code, self.status))


class InvalidChannel(PushError, ValueError):
    """The channel name is not valid: it must look like ``/greetings`` or ``/room/42``."""

    code = "INVALID_CHANNEL"


class InvalidCursor(PushError, ValueError):
    """A cursor (message id) is malformed, or ahead of the newest message."""

    code = "INVALID_CURSOR"


class InvalidConfig(PushError, ValueError):
    """Options are not usable: a producer's (URL, publish key, timeout), a token's, or a
    :class:`push.Server`'s (unknown or bad flag values, an address that cannot be bound)."""

    code = "INVALID_CONFIG"


class PayloadTooLarge(PushError, ValueError):
    """The payload is larger than the server accepts (``--max-payload-bytes``)."""

    code = "PAYLOAD_TOO_LARGE"


class BadRequest(PushError, ValueError):
    """The server rejected the request as malformed."""

    code = "BAD_REQUEST"


class Unauthorized(PushError):
    """The publish key is missing or wrong."""

    code = "UNAUTHORIZED"


class Forbidden(PushError):
    """The credentials are valid but do not cover this channel."""

    code = "FORBIDDEN"


class ConnectionError(PushError, builtins.ConnectionError):  # noqa: A001 (shadows on purpose)
    """The server could not be reached, or the connection broke.

    Also a :class:`builtins.ConnectionError`, so ``except ConnectionError`` code that knows
    nothing of push-rs catches it too.
    """

    code = "CONNECTION_FAILED"


class Timeout(PushError, builtins.TimeoutError):
    """No answer within the producer's ``timeout``. Also a :class:`builtins.TimeoutError`."""

    code = "TIMEOUT"


class ServerError(PushError):
    """The server failed in a way that is not the caller's fault."""

    code = "SERVER_ERROR"


class TooManyConnections(PushError):
    """The server refuses more connections right now."""

    code = "TOO_MANY_CONNECTIONS"
