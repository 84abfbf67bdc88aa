"""push-rs for Python: publish realtime messages to channels.

    import push
    push.Producer().publish("hi there!").to("/greetings")      # returns the id, a str

    async with push.AsyncProducer() as producer:                # asyncio
        await producer.publish("hi").to("/greetings")

    token = push.Token.sign("/rooms/*", expires_in=3600)       # subscriber token, PUSH_SECRET

    with push.Server(history_size=100) as server:               # the server, in this process
        push.Producer(server.url).publish("hi").to("/greetings")

The ``push-server`` command (also ``python -m push``) is installed with the package.

The work is done by the Rust core (sdk-core) in the compiled module ``push._push``.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

from push._errors import (
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    InternalError,
    InvalidChannelError,
    InvalidConfigError,
    InvalidCursorError,
    OverloadedError,
    PayloadTooLargeError,
    PushError,
    ServerError,
    TimeoutError,
    TlsError,
    TooManyConnectionsError,
    UnauthorizedError,
)
from push._push import Producer, Publish, Server, Token, __version__, close_default, default_producer, server_main
from push.aio import AsyncProducer, AsyncPublish

__all__ = [
    "__version__",
    "Producer",
    "Publish",
    "AsyncProducer",
    "AsyncPublish",
    "Token",
    "Server",
    "ServerOption",
    "server_main",
    "publish",
    "default_producer",
    "close_default",
    "Data",
    # The exceptions (push._errors): the classes of docs/ERRORS.md's table.
    "PushError",
    "InvalidChannelError",
    "InvalidCursorError",
    "PayloadTooLargeError",
    "BadRequestError",
    "InvalidConfigError",
    "UnauthorizedError",
    "ForbiddenError",
    "ConnectionFailedError",
    "TlsError",
    "TimeoutError",
    "ServerError",
    "TooManyConnectionsError",
    "OverloadedError",
    "InternalError",
]

#: What a message can be made of: text is sent as UTF-8, binary data as is.
Data = Union[str, bytes, bytearray, memoryview]

#: A :class:`Server` option's value: a switch (bool), a list (joined with commas), or text
#: (numbers, durations like ``"30s"``, paths); ``None`` leaves the option out.
ServerOption = Union[bool, int, float, str, "os.PathLike[str]", Sequence[Union[int, float, str]], None]


def publish(
    data: Data, *, to: str, content_type: Optional[str] = None, idempotency_key: Optional[str] = None
) -> str:
    """Publishes ``data`` to the channel ``to`` with the default producer; returns the id.

    ``push.publish("hi", to="/greetings")`` is ``push.Producer().publish("hi").to("/greetings")``
    without making a producer (and its connections) per call. The default producer
    (:func:`default_producer`) is made from ``PUSH_URL``, ``PUSH_PUBLISH_KEY`` and ``PUSH_CA_FILE``
    on first use and made again when any has changed, the same rule in every push-rs SDK (sdk-core's).
    """
    return default_producer().publish(data, content_type, idempotency_key=idempotency_key).to(to)
