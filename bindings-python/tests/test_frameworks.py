"""Templates and frameworks (issue 31): push.jinja.install and the push.django tags render the
Turbo tag and the htmx attributes unescaped, with their errors; Django and Jinja2 stay optional;
the Flask, FastAPI and Django examples run for real against an in-process push.Server started with
--auth token (through each framework's test client, and once more as their docstrings say, in a
child process: `flask run`, `uvicorn`, `python django_app.py runserver`): the page's tag or
attributes subscribe, the POST publishes, and the SSE stream of the page's own URL gets it. And
the README's "Turbo Streams and htmx" section: every code block is run here."""

from __future__ import annotations

import doctest
import html.parser
import http.cookiejar
import importlib.util
import re
import socket
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import push
import push.jinja
from conftest import Server, Sse, free_port, wait_until

HERE = Path(__file__).resolve().parents[1]
EXAMPLES = HERE / "examples"
README = HERE / "README.md"
KEY = "frameworks-key"
SECRET = "frameworks-secret"


def load_example(name: str) -> ModuleType:
    """examples/<name>.py as the module example_<name>, once per test session (Django's settings
    are configured once per process and name this module as the URL conf)."""
    module_name = f"example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


class _Tags(html.parser.HTMLParser):
    """Every start tag's attributes, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []

    def handle_starttag(self, tag: str, attrs: List[Any]) -> None:
        self.tags.append((tag, dict(attrs)))


def attribute(page: str, name: str, tag: Optional[str] = None) -> str:
    """The one value of attribute `name` in `page` (on a `tag` element)."""
    parser = _Tags()
    parser.feed(page)
    values = [attrs[name] for found, attrs in parser.tags if name in attrs and tag in (None, found)]
    assert len(values) == 1, f"{name}: {values}"
    value = values[0]
    assert value is not None
    return value


# Jinja2 and Django templates.


def test_jinja_install(monkeypatch: pytest.MonkeyPatch) -> None:
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(autoescape=True)
    assert push.jinja.install(env) is env
    assert env.globals["push_turbo_stream_from"] is push.jinja.push_turbo_stream_from

    page = env.from_string(
        '{{ push_turbo_stream_from("/rooms/" ~ room, token=False, url="http://p.test") }}\n'
        '<div {{ push_sse_attributes("/rooms/" ~ room, token=False, consumer=user_id, url="http://p.test") }}></div>\n'
        "{{ '<b>' }}"  # autoescape is on: only the helpers' output is left as is
    ).render(room=1, user_id=7)
    assert page == (
        '<turbo-stream-source src="http://p.test/rooms/1?gap=turbo-refresh"></turbo-stream-source>\n'
        '<div hx-ext="sse" sse-connect="http://p.test/rooms/1?consumer=7"></div>\n'
        "&lt;b&gt;"
    )

    monkeypatch.setenv("PUSH_SECRET", SECRET)
    monkeypatch.setenv("PUSH_PUBLIC_URL", "https://push.example.com")
    src = attribute(env.from_string('{{ push_turbo_stream_from("/rooms/1", consumer=7) }}').render(), "src", "turbo-stream-source")
    assert src.startswith("https://push.example.com/rooms/1?gap=turbo-refresh&consumer=7&token=push1.")
    with pytest.raises(push.InvalidChannelError):
        env.from_string('{{ push_sse_attributes("rooms") }}').render()
    monkeypatch.delenv("PUSH_SECRET")
    with pytest.raises(push.InvalidConfigError, match="PUSH_SECRET"):
        env.from_string('{{ push_turbo_stream_from("/rooms/1") }}').render()


@pytest.fixture(scope="module")
def django_app() -> ModuleType:
    pytest.importorskip("django")
    return load_example("django_app")


def test_django_tags(django_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.template import engines

    def render(source: str, **context: Any) -> str:
        return str(engines["django"].from_string("{% load push %}" + source).render(context))

    assert render('{% push_turbo_stream_from "/rooms/1" token=False url="http://p.test" %}') == (
        '<turbo-stream-source src="http://p.test/rooms/1?gap=turbo-refresh"></turbo-stream-source>'
    )
    assert render('<div {% push_sse_attributes channel token=False consumer=user.pk url="http://p.test" %}></div>', channel="/rooms/2", user={"pk": 7}) == (
        '<div hx-ext="sse" sse-connect="http://p.test/rooms/2?consumer=7"></div>'
    )
    assert render('{% push_sse_attributes "/r" token=False gap="event" url="http://p" %} {{ x }}', x="<b>") == 'hx-ext="sse" sse-connect="http://p/r?gap=event" &lt;b&gt;'

    monkeypatch.setenv("PUSH_SECRET", SECRET)
    src = attribute(render('{% push_turbo_stream_from "/rooms/1" consumer=7 expires_in=60 %}'), "src", "turbo-stream-source")
    assert src.startswith("http://127.0.0.1:4000/rooms/1?gap=turbo-refresh&consumer=7&token=push1.")
    with pytest.raises(push.InvalidChannelError):
        render('{% push_turbo_stream_from "rooms" %}')
    monkeypatch.delenv("PUSH_SECRET")
    with pytest.raises(push.InvalidConfigError, match="PUSH_SECRET"):
        render('{% push_sse_attributes "/rooms/1" %}')

    from django.apps import apps

    assert apps.get_app_config("push").name == "push.django"


def test_frameworks_stay_optional() -> None:
    # Importing every module of the package imports neither Django nor Jinja2 (nor markupsafe).
    code = (
        "import sys, push, push.turbo, push.htmx, push.jinja, push.django, push.aio\n"
        "push.turbo.stream_source_tag('/r', token=False); push.htmx.sse_attributes('/r', token=False)\n"
        "loaded = sorted(m for m in ('django', 'jinja2', 'markupsafe', 'flask') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    import importlib.metadata

    assert not importlib.metadata.requires("push-rs")  # no dependencies at all


# The examples against a real server.


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server(publish_key=KEY, auth="token", secret=SECRET, history_size=1000)


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """What the examples' docstrings export: the app publishes to PUSH_URL with PUSH_PUBLISH_KEY
    and signs the pages' tokens with PUSH_SECRET."""
    settings = {"PUSH_URL": server.url, "PUSH_PUBLISH_KEY": KEY, "PUSH_SECRET": SECRET}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def streams() -> Iterator[List[Sse]]:
    opened: List[Sse] = []
    yield opened
    for stream in opened:
        stream.close()


def subscribe(server: Server, url: str, streams: List[Sse]) -> Sse:
    """An SSE stream on a page's URL, as the browser's EventSource opens it, once the server counts it."""
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == server.url
    channel = parts.path
    producer = push.Producer(server.url, publish_key=KEY)
    before = producer.channel(channel).info().connections
    stream = Sse(server, f"{parts.path}?{parts.query}")
    streams.append(stream)
    assert stream.status == 200
    opened = stream.next_event()
    assert opened is not None and "retry" in opened
    wait_until(lambda: producer.channel(channel).info().connections == before + 1, "the page's stream to count")
    return stream


def history(server: Server, channel: str) -> List[push.HistoryMessage]:
    return push.Producer(server.url, publish_key=KEY).channel(channel).history().messages


def test_flask_turbo(server: Server, env: Dict[str, str], streams: List[Sse]) -> None:
    pytest.importorskip("flask")
    client = load_example("flask_turbo").app.test_client()

    page = client.get("/rooms/lobby")
    assert page.status_code == 200
    turbo = subscribe(server, attribute(page.text, "src", "turbo-stream-source"), streams)

    posted = client.post("/rooms/lobby/messages", data={"text": "<b>hi</b> & bye"})
    assert posted.status_code == 204
    fragment = '<turbo-stream action="append" target="messages"><template><li>&lt;b&gt;hi&lt;/b&gt; &amp; bye</li></template></turbo-stream>'
    [message] = history(server, "/rooms/lobby")
    assert (message.text, message.content_type, message.event) == (fragment, "text/vnd.turbo-stream.html", None)
    assert turbo.next_event() == {"id": message.id, "data": fragment}

    assert client.get("/rooms/no%20such").status_code == 404


def test_fastapi_htmx(server: Server, env: Dict[str, str], streams: List[Sse]) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    from fastapi.testclient import TestClient

    with TestClient(load_example("fastapi_htmx").app) as client:
        page = client.get("/boards/lobby")
        assert page.status_code == 200
        assert attribute(page.text, "hx-ext") == "sse"
        board = subscribe(server, attribute(page.text, "sse-connect"), streams)
        assert client.get("/boards/lobby/notices").text == ""

        posted = client.post("/boards/lobby/notices", data={"text": "Lunch at <1>"})
        assert posted.status_code == 204
        [message] = history(server, "/boards/lobby")
        assert (message.text, message.content_type, message.event) == ("<li>Lunch at &lt;1&gt;</li>", "text/html; charset=utf-8", "notice")
        assert board.next_event() == {"id": message.id, "event": "notice", "data": "<li>Lunch at &lt;1&gt;</li>"}

        client.post("/boards/lobby/notices", data={"text": "second"})
        # What the page loads (on load and on sse:gap): every notice, from the channel's history.
        assert client.get("/boards/lobby/notices").text == "<li>Lunch at &lt;1&gt;</li><li>second</li>"
        assert client.get("/boards/no%20such").status_code == 404


def test_django_app(django_app: ModuleType, server: Server, env: Dict[str, str], streams: List[Sse]) -> None:
    from django.test import Client

    client = Client()
    page = client.get("/rooms/lobby/")
    assert page.status_code == 200
    text = page.content.decode()
    turbo = subscribe(server, attribute(text, "src", "turbo-stream-source"), streams)
    htmx = subscribe(server, attribute(text, "sse-connect"), streams)

    posted = client.post("/rooms/lobby/messages", {"text": "<i>hello</i> from Django, a longer message"})
    assert posted.status_code == 204
    append, latest = history(server, "/rooms/lobby")
    fragment = '<turbo-stream action="append" target="messages"><template><li>&lt;i&gt;hello&lt;/i&gt; from Django, a longer message</li></template></turbo-stream>'
    assert (append.text, append.content_type, append.event) == (fragment, "text/vnd.turbo-stream.html", None)
    assert (latest.text, latest.content_type, latest.event) == ("&lt;i&gt;hello&lt;/i&gt; from Django, a l…", "text/html; charset=utf-8", "latest")
    # Both streams are the room's channel: Turbo applies the plain message and ignores the named
    # one, htmx swaps the named one into sse-swap="latest".
    for stream in (turbo, htmx):
        assert stream.next_event() == {"id": append.id, "data": fragment}
        assert stream.next_event() == {"id": latest.id, "event": "latest", "data": latest.text}

    assert client.get("/rooms/no%20such/").status_code == 404
    assert Client(enforce_csrf_checks=True).post("/rooms/lobby/messages", {"text": "x"}).status_code == 403


# The examples as their docstrings run them, in child processes.


def wait_for_port(port: int, process: "subprocess.Popen[bytes]") -> None:
    def listening() -> bool:
        assert process.poll() is None, f"the app exited with {process.returncode}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, f"the app to listen on {port}", timeout=30)


# Each example's command as its docstring writes it, and what the test adds to it.
RUNS = {
    "flask_turbo": ("flask --app examples/flask_turbo.py run", ["--port", "{port}"], "/rooms/lobby", "/rooms/lobby/messages"),
    "fastapi_htmx": ("uvicorn --app-dir examples fastapi_htmx:app", ["--port", "{port}"], "/boards/lobby", "/boards/lobby/notices"),
    "django_app": ("python examples/django_app.py runserver", ["{port}", "--noreload"], "/rooms/lobby/", "/rooms/lobby/messages"),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_runs_as_documented(name: str, server: Server, env: Dict[str, str], streams: List[Sse]) -> None:
    documented, extra, page_path, post_path = RUNS[name]
    pytest.importorskip({"flask_turbo": "flask", "fastapi_htmx": "uvicorn", "django_app": "django"}[name])
    assert documented in (EXAMPLES / f"{name}.py").read_text()

    port = free_port()
    program, *arguments = documented.split() + [part.format(port=port) for part in extra]
    program = sys.executable if program == "python" else str(Path(sys.executable).parent / program)  # the venv's
    process = subprocess.Popen([program, *arguments], cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process)
        app = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(app + page_path, timeout=10) as response:
            page = response.read().decode()
        url = attribute(page, "src", "turbo-stream-source") if "<turbo-stream-source" in page else attribute(page, "sse-connect")
        stream = subscribe(server, url, streams)

        form = {"text": f"hi from {name}"}
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if csrf:
            form["csrfmiddlewaretoken"] = csrf.group(1)  # Django: with the cookie the page set
        request = urllib.request.Request(app + post_path, data=urllib.parse.urlencode(form).encode(), method="POST")
        with opener.open(request, timeout=10) as response:
            assert response.status == 204

        event = stream.next_event()
        assert event is not None and f"<li>hi from {name}</li>" in event["data"]
    except BaseException:
        process.terminate()
        print(process.communicate(timeout=30)[1].decode(errors="replace"))  # the app's log, for the failure
        raise
    process.terminate()
    process.communicate(timeout=30)


# README.md's "Turbo Streams and htmx" section: every code block runs.


def readme_section() -> str:
    text = README.read_text()
    start = text.index("\n## Turbo Streams and htmx\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def code_blocks(section: str) -> List[Tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```([\w+]*)\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)]


def excerpt_of(block: str, source: str) -> bool:
    """Whether `block` is lines of `source`, one after the other, word for word (indentation
    aside: both are dedented)."""
    wanted = textwrap.dedent(block).rstrip("\n").split("\n")
    lines = source.split("\n")
    for start in range(len(lines) - len(wanted) + 1):
        window = textwrap.dedent("\n".join(lines[start : start + len(wanted)])).split("\n")
        if window == wanted:
            return True
    return False


def test_readme_blocks_run(server: Server, env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    section = readme_section()
    blocks = code_blocks(section)
    assert len(blocks) >= 10 and section.count("```") == 2 * len(blocks)
    examples = {path.name: path.read_text() for path in EXAMPLES.glob("*.py")}
    monkeypatch.setenv("PUSH_PUBLIC_URL", "https://push.example.com")  # as the section says
    for language, body in blocks:
        if language == "pycon":
            # An interactive session: run with doctest against the test's server (PUSH_URL,
            # PUSH_PUBLISH_KEY and PUSH_SECRET set), every output compared.
            test = doctest.DocTestParser().get_doctest(body, {}, "README.md", str(README), 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            runner.run(test)
            assert runner.failures == 0 and runner.tries > 0, f"README block failed:\n{body}"
        elif language in ("python", "html+jinja", "html+django"):
            # An excerpt of an example, which the tests above run: it must be in one, word for word.
            assert any(excerpt_of(body, source) for source in examples.values()), f"this README block is in no file of examples/:\n{body}"
        else:
            pytest.fail(f"a ```{language} block in the README section is run by no test:\n{body}")
    # The publishes of the session reached the server.
    assert [(m.content_type, m.event) for m in history(server, "/rooms/1")] == [("text/vnd.turbo-stream.html", None), ("text/html; charset=utf-8", "chat")]


def test_readme_excerpts_are_checked() -> None:
    source = (EXAMPLES / "flask_turbo.py").read_text()
    assert excerpt_of('return "", 204\n', source)
    assert excerpt_of('    push.jinja.install(app.jinja_env)  # templates get push_turbo_stream_from(...) and push_sse_attributes(...)', source)
    assert not excerpt_of('return "", 200\n', source)
    assert not excerpt_of("app = Flask(__name__)\npush.jinja.install(app.jinja_env)", source)  # not the whole line
