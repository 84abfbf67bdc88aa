"""Flask + Turbo Streams (Hotwire): a chat room. The page subscribes with Turbo's
<turbo-stream-source> (a signed token for its channel); the form's POST broadcasts the new
message as an append action, and every open page shows it.

    pip install ./bindings-python flask
    push-server --auth token --secret dev-secret --publish-key dev-key &     # 127.0.0.1:4000
    export PUSH_URL=http://127.0.0.1:4000 PUSH_SECRET=dev-secret PUSH_PUBLISH_KEY=dev-key
    flask --app examples/flask_turbo.py run
    # open http://127.0.0.1:5000/rooms/lobby in two windows and chat

tests/test_frameworks.py runs it (with Flask's test client, and as above with `flask run`).
"""

from __future__ import annotations

from flask import Flask, render_template_string, request
from flask.typing import ResponseReturnValue

import push
import push.jinja

app = Flask(__name__)
push.jinja.install(app.jinja_env)  # templates get push_turbo_stream_from(...) and push_sse_attributes(...)

PAGE = """<!doctype html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{{ room }}</title>
    <script type="module" src="https://cdn.jsdelivr.net/npm/@hotwired/turbo@8/dist/turbo.es2017-esm.js"></script>
  </head>
  <body>
    {{ push_turbo_stream_from("/rooms/" ~ room) }}
    <ul id="messages"></ul>
    <form action="/rooms/{{ room }}/messages" method="post">
      <input name="text" autocomplete="off" required> <button>Send</button>
    </form>
  </body>
</html>
"""

MESSAGE = "<li>{{ text }}</li>"


@app.get("/rooms/<room>")
def room_page(room: str) -> ResponseReturnValue:
    return render_template_string(PAGE, room=room)


@app.post("/rooms/<room>/messages")
def post_message(room: str) -> ResponseReturnValue:
    html = render_template_string(MESSAGE, text=request.form["text"])  # escaped by Jinja
    push.turbo.append(to=f"/rooms/{room}", target="messages", html=html)
    return "", 204


@app.errorhandler(push.InvalidChannelError)
def not_a_room(error: push.InvalidChannelError) -> ResponseReturnValue:
    return f"no such room: {error}", 404


if __name__ == "__main__":
    app.run()
