"""Django, a single-file project using push.django's template tags: a chat room. The page
subscribes with {% push_turbo_stream_from %} (Turbo Streams) and, for the "latest message" line,
with {% push_sse_attributes %} (htmx). The form's POST broadcasts the message as a Turbo append
action and publishes the latest-message line under the event name "latest" for htmx: both on the
room's channel (Turbo takes the plain messages, htmx the named ones).

    pip install ./bindings-python django
    push-server --auth token --secret dev-secret --publish-key dev-key --cors-origins http://127.0.0.1:8000 &
    export PUSH_URL=http://127.0.0.1:4000 PUSH_SECRET=dev-secret PUSH_PUBLISH_KEY=dev-key
    python examples/django_app.py runserver
    # open http://127.0.0.1:8000/rooms/lobby/ in two windows and chat

In a project of your own: "push.django" in INSTALLED_APPS, then {% load push %} in a template.
tests/test_frameworks.py runs it (with Django's test client, and as above with runserver).
"""

from __future__ import annotations

import sys

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template import engines
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

import push

if not settings.configured:
    settings.configure(
        DEBUG=True,
        SECRET_KEY="only-for-this-example",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        INSTALLED_APPS=["push.django"],  # the {% load push %} library
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    )
    django.setup()

PAGE = engines["django"].from_string("""
{% load push %}
<!doctype html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{{ room }}</title>
    <script type="module" src="https://cdn.jsdelivr.net/npm/@hotwired/turbo@8/dist/turbo.es2017-esm.js"></script>
    <script src="https://cdn.jsdelivr.net/npm/htmx.org@2/dist/htmx.min.js"></script>
    <script src="https://cdn.jsdelivr.net/npm/htmx-ext-sse@2/sse.js"></script>
  </head>
  <body>
    {% push_turbo_stream_from channel %}
    <p {% push_sse_attributes channel %}>Latest: <span sse-swap="latest"></span></p>
    <ul id="messages"></ul>
    <form action="/rooms/{{ room }}/messages" method="post">
      {% csrf_token %}
      <input name="text" autocomplete="off" required> <button>Send</button>
    </form>
  </body>
</html>
""")

MESSAGE = engines["django"].from_string("<li>{{ text }}</li>")
LATEST = engines["django"].from_string("{{ text|truncatechars:30 }}")


@require_GET
def room_page(request: HttpRequest, room: str) -> HttpResponse:
    try:
        return HttpResponse(PAGE.render({"room": room, "channel": f"/rooms/{room}"}, request))
    except push.InvalidChannelError as e:
        return HttpResponseNotFound(f"no such room: {e}")


@require_POST
def post_message(request: HttpRequest, room: str) -> HttpResponse:
    text = request.POST["text"]
    channel = f"/rooms/{room}"
    push.turbo.append(to=channel, target="messages", html=MESSAGE.render({"text": text}))  # escaped by Django
    push.htmx.publish(LATEST.render({"text": text}), to=channel, event="latest")
    return HttpResponse(status=204)


urlpatterns = [
    path("rooms/<str:room>/", room_page),
    path("rooms/<str:room>/messages", post_message),
]


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
