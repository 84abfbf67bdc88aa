"""idempotency_key: a publish repeated with the same key to the same channel is stored once."""

from __future__ import annotations

import asyncio
from typing import List, Tuple

import pytest

import push
import push.aio
from conftest import Server, first_id


def stored(server: Server, channel: str, after: str) -> List[Tuple[str, str]]:
    return [(m["id"], m["data"]) for m in server.messages(channel, after=after)]


def test_the_same_key_twice_returns_the_same_id_and_is_stored_once(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    cursor = first_id(server, "/orders")
    producer = push.Producer(server.url)
    first = producer.publish("order 9 paid", idempotency_key="order-9").to("/orders")
    assert producer.publish("order 9 paid", idempotency_key="order-9").to("/orders") == first
    # Another producer (as another process would) and the module-level function: the first id.
    monkeypatch.setenv("PUSH_URL", server.url)
    assert push.publish("order 9 paid", to="/orders", idempotency_key="order-9") == first
    assert stored(server, "/orders", cursor) == [(first, "order 9 paid")]


def test_the_same_key_with_asyncio(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    cursor = first_id(server, "/orders")
    monkeypatch.setenv("PUSH_URL", server.url)

    async def main() -> List[str]:
        async with push.AsyncProducer(server.url) as producer:
            return [
                await producer.publish(b"paid", idempotency_key="order-9").to("/orders"),
                await producer.producer.publish(b"paid", idempotency_key="order-9").to_async("/orders"),
                await push.aio.publish(b"paid", to="/orders", idempotency_key="order-9"),
            ]

    ids = asyncio.run(main())
    assert ids == [ids[0]] * 3
    assert stored(server, "/orders", cursor) == [(ids[0], "paid")]


def test_the_same_key_on_another_channel_is_another_message(server: Server) -> None:
    cursor = first_id(server, "/start")
    pending = push.Producer(server.url).publish("paid", "text/x-order", idempotency_key="order-9")
    a, b = pending.to("/orders/a"), pending.to("/orders/b")
    assert a != b
    assert pending.to("/orders/a") == a
    for channel, message_id in [("/orders/a", a), ("/orders/b", b)]:
        [message] = server.messages(channel, after=cursor)
        assert (message["id"], message["data"], message["content_type"]) == (message_id, "paid", "text/x-order")


@pytest.mark.parametrize("key", ["has space", "", "x" * 256, "clé", "tab\t"])
def test_a_bad_key_raises_bad_request_and_stores_nothing(server: Server, key: str) -> None:
    cursor = first_id(server, "/bad")
    producer = push.Producer(server.url)
    with pytest.raises(push.BadRequestError, match="idempotency key") as error:
        producer.publish("x", idempotency_key=key).to("/bad")
    assert error.value.code == "BAD_REQUEST" and error.value.status is None  # refused before any request

    async def main() -> str:
        return await push.AsyncProducer(producer=producer).publish("x", idempotency_key=key).to("/bad")

    with pytest.raises(push.BadRequestError):
        asyncio.run(main())
    assert server.messages("/bad", after=cursor) == []


def test_the_longest_key_works_and_other_types_are_type_errors(server: Server) -> None:
    producer = push.Producer(server.url)
    key = "k" * 255
    assert producer.publish("x", idempotency_key=key).to("/long") == producer.publish("x", idempotency_key=key).to("/long")
    with pytest.raises(TypeError):
        producer.publish("x", idempotency_key=9)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        producer.publish("x", "text/plain", "order-9")  # type: ignore[call-arg]
