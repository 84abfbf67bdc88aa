"""FastAPI: publish from an async endpoint without blocking the event loop.

    pip install ./bindings-python fastapi uvicorn
    push-server &                                   # 127.0.0.1:4000
    PUSH_URL=http://127.0.0.1:4000 uvicorn --app-dir examples fastapi_app:app
    curl http://127.0.0.1:4000/rooms/lobby &        # a subscriber waits ...
    curl -X POST -H 'Content-Type: application/json' -d '{"text": "hello"}' \\
         http://127.0.0.1:8000/rooms/lobby/messages
    # ... and prints: {"text":"hello"}
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

import push

producer = push.AsyncProducer()  # PUSH_URL, PUSH_PUBLISH_KEY


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await producer.aclose()


app = FastAPI(lifespan=lifespan)


class Message(BaseModel):
    text: str


class Published(BaseModel):
    id: str
    channel: str


@app.post("/rooms/{room}/messages", status_code=201)
async def post_message(room: str, message: Message) -> Published:
    channel = f"/rooms/{room}"
    try:
        message_id = await producer.publish(message.model_dump_json(), content_type="application/json").to(channel)
    except push.InvalidChannelError as e:
        raise HTTPException(status_code=400, detail=str(e)) from e
    except push.PushError as e:
        raise HTTPException(status_code=503 if e.retryable else 502, detail=str(e)) from e
    return Published(id=message_id, channel=channel)
