"""The exceptions of push-rs.

Every failure has a stable ``code`` (the same in every push-rs language and in the server's
``Push-Error`` header). The classes and their codes, ``retryable`` and ``maybe_stored`` values
come from the native table (``push._push.error_table()``, sdk-core's ``KINDS``, shown in
docs/ERRORS.md): a class here is only a name of that table, with the builtin it also derives
from. The compiled module raises the class the table names (see ``src/errors.rs``); a code this
module has no class for raises :class:`PushError` itself, with that code.
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, Optional

from push._push import error_table

_ROWS: Dict[str, Dict[str, Any]] = {row["class_name"]: dict(row) for row in error_table()}


class PushError(Exception):
    """Base class of every push-rs error; every other class derives directly from it.

    ``code`` is the stable error code (e.g. ``"INVALID_CHANNEL"``; ``"PUSH_ERROR"`` for the base
    itself), ``status`` the HTTP status the server answered with (``None`` when the error did not
    come from a response), ``retryable`` whether the same call may succeed if tried again later,
    and ``maybe_stored`` whether a failed publish may still have stored its message.
    """

    code: str = "PUSH_ERROR"
    retryable: bool = False
    maybe_stored: bool = False
    status: Optional[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The classes of this module take their code and flags from their row of the native table.
        super().__init_subclass__(**kwargs)
        row = _ROWS.get(cls.__name__)
        if row is not None and cls.__module__ == __name__:
            cls.code, cls.retryable, cls.maybe_stored = row["code"], row["retryable"], row["maybe_stored"]

    def __init__(
        self,
        message: str = "",
        code: Optional[str] = None,
        status: Optional[int] = None,
        retryable: Optional[bool] = None,
        maybe_stored: Optional[bool] = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        if maybe_stored is not None:
            self.maybe_stored = maybe_stored

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Survives pickling (multiprocessing, concurrent.futures) with its code, status and flags.
        return (type(self), (self.message, self.code, self.status, self.retryable, self.maybe_stored))


class InvalidChannelError(PushError, ValueError):
    """The channel name is not valid: it must look like ``/greetings`` or ``/room/42``."""


class InvalidCursorError(PushError, ValueError):
    """A cursor (message id) is malformed, or ahead of the newest message."""


class PayloadTooLargeError(PushError, ValueError):
    """The payload is larger than the server accepts (``--max-payload-bytes``)."""


class BadRequestError(PushError, ValueError):
    """The request is malformed in another way (an invalid idempotency key, a 400 answer)."""


class InvalidConfigError(PushError, ValueError):
    """Options are not usable: a producer's (URL, publish key, timeout), a token's, or a
    :class:`push.Server`'s (unknown or bad flag values, an address that cannot be bound)."""


class UnauthorizedError(PushError):
    """The publish key or token is missing or wrong."""


class ForbiddenError(PushError):
    """The credentials are valid but do not cover this channel."""


class ConnectionFailedError(PushError, builtins.ConnectionError):
    """The server could not be reached, or the connection broke. Also a
    :class:`builtins.ConnectionError`, so code that knows nothing of push-rs catches it too."""


class TlsError(PushError):
    """A TLS certificate problem (``https://``, ``amqps://``): the certificate is not signed by a
    trusted CA (the system's roots, ``ca_file``, ``PUSH_CA_FILE``), names another host, has
    expired, or the CA file cannot be read. Not retryable: fix the certificate or the CA file."""


class TimeoutError(PushError, builtins.TimeoutError):  # noqa: A001 (the table's name, on purpose)
    """No answer within the producer's ``timeout``. Also a :class:`builtins.TimeoutError`, so
    ``except TimeoutError:`` catches both. Not a connection failure: the message may be stored."""


class ServerError(PushError):
    """The server failed in a way that is not the caller's fault."""


class TooManyConnectionsError(PushError):
    """The server holds its maximum of subscriber connections (``--max-connections``)."""


class OverloadedError(PushError):
    """The server is at another of its limits; retry after its ``Retry-After``."""


class InternalError(PushError):
    """A bug inside push-rs (a caught panic); please report it."""
