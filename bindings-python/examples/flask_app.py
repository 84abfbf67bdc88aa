"""Flask: publish to a channel from a request handler.

    pip install ./bindings-python flask
    push-server &                                   # 127.0.0.1:4000
    PUSH_URL=http://127.0.0.1:4000 flask --app examples/flask_app.py run
    curl http://127.0.0.1:4000/rooms/lobby &        # a subscriber waits ...
    curl -X POST -d 'hello' http://127.0.0.1:5000/rooms/lobby/messages
    # ... and prints: hello

One producer per process, shared by every request thread. It is made at import time and
still works in each worker after gunicorn forks (`gunicorn --preload -w 4 flask_app:app`).
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

import push

app = Flask(__name__)
producer = push.Producer()  # PUSH_URL, PUSH_PUBLISH_KEY


@app.post("/rooms/<room>/messages")
def post_message(room: str) -> ResponseReturnValue:
    text = request.get_data(as_text=True)
    try:
        # Blocks this request's thread only: the GIL is released while the server answers.
        message_id = producer.publish(text).to(f"/rooms/{room}")
    except push.InvalidChannelError as e:
        return jsonify(error=str(e), code=e.code), 400
    except push.PushError as e:
        return jsonify(error=str(e), code=e.code), 503 if e.retryable else 502
    return jsonify(id=message_id), 201


if __name__ == "__main__":
    app.run()
