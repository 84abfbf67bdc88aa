"""FastAPI + htmx: a notice board. The page subscribes with htmx's SSE extension
(hx-ext="sse" sse-connect="...", a signed token for its channel); the form's POST publishes the
new notice under the event name "notice", which sse-swap="notice" appends on every open page.
The list is loaded from the channel's history, and loaded again when the server announces a
gap (hx-trigger="sse:gap"): a page away too long shows every notice, not a hole.

    pip install ./bindings-python fastapi uvicorn jinja2 python-multipart
    push-server --auth token --secret dev-secret --publish-key dev-key --cors-origins http://127.0.0.1:8000 &
    export PUSH_URL=http://127.0.0.1:4000 PUSH_SECRET=dev-secret PUSH_PUBLISH_KEY=dev-key
    uvicorn --app-dir examples fastapi_htmx:app
    # open http://127.0.0.1:8000/boards/lobby in two windows and post notices

(--cors-origins: htmx opens its EventSource with credentials, which `*` does not allow.)
tests/test_frameworks.py runs it (with FastAPI's test client, and as above with uvicorn).
"""

from __future__ import annotations

from typing import Annotated

import jinja2
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

import push
import push.aio
import push.jinja

templates = push.jinja.install(jinja2.Environment(autoescape=True))

PAGE = templates.from_string("""<!doctype html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{{ board }}</title>
    <script src="https://cdn.jsdelivr.net/npm/htmx.org@2/dist/htmx.min.js"></script>
    <script src="https://cdn.jsdelivr.net/npm/htmx-ext-sse@2/sse.js"></script>
  </head>
  <body>
    <div {{ push_sse_attributes("/boards/" ~ board) }}>
      <div hx-get="/boards/{{ board }}/notices" hx-trigger="load, sse:gap" hx-target="#notices"></div>
      <ul id="notices" sse-swap="notice" hx-swap="beforeend"></ul>
    </div>
    <form hx-post="/boards/{{ board }}/notices" hx-swap="none" hx-on::after-request="this.reset()">
      <input name="text" autocomplete="off" required> <button>Post</button>
    </form>
  </body>
</html>
""")

NOTICE = templates.from_string("<li>{{ text }}</li>")

app = FastAPI()


@app.get("/boards/{board}", response_class=HTMLResponse)
async def board_page(board: str) -> str:
    return PAGE.render(board=board)


@app.get("/boards/{board}/notices", response_class=HTMLResponse)
async def notices(board: str) -> str:
    history = await push.aio.channel(f"/boards/{board}").history(last=100)
    return "".join(m.text for m in history.messages if m.event == "notice")


@app.post("/boards/{board}/notices", status_code=204)
async def post_notice(board: str, text: Annotated[str, Form()]) -> Response:
    await push.htmx.publish_async(NOTICE.render(text=text), to=f"/boards/{board}", event="notice")
    return Response(status_code=204)


@app.exception_handler(push.InvalidChannelError)
async def not_a_board(request: Request, error: push.InvalidChannelError) -> Response:
    return PlainTextResponse(f"no such board: {error}", status_code=404)
