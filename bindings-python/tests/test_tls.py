"""https:// and amqps:// producers with a test CA, and certificate problems as push.TlsError.

One RabbitMQ node with an amqps listener serves the whole module (scripts/rabbitmq-tls: its own
node name, ports and data; the shared node on 5672 is not touched), stopped at the end. Its
directory holds the test CA (certs/ca.pem), a server certificate it signed for 127.0.0.1 (the
https push-server uses it too), and an unrelated CA (certs/other-ca.pem).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest

import push
from conftest import REPO, Server

SCRIPT = REPO / "scripts" / "rabbitmq-tls"


@pytest.fixture(scope="module")
def tls_rabbit() -> Iterator[Dict[str, str]]:
    directory = tempfile.mkdtemp(prefix="push-python-tls-")
    started = subprocess.run([str(SCRIPT), "start", directory], capture_output=True, text=True)
    assert started.returncode == 0, f"scripts/rabbitmq-tls start failed:\n{started.stdout}{started.stderr}"
    env = dict(line.split("=", 1) for line in (Path(directory) / "env").read_text().splitlines())
    env["CERTS"] = str(Path(directory) / "certs")
    try:
        yield env
    finally:
        subprocess.run([str(SCRIPT), "stop", directory], check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def https_url(tls_rabbit: Dict[str, str], start_server: Callable[..., Server]) -> str:
    certs = Path(tls_rabbit["CERTS"])
    server = start_server(tls_cert=certs / "server.pem", tls_key=certs / "server-key.pem")
    assert server.url == f"https://127.0.0.1:{server.port}", "the in-process server says https://"
    return server.url


def stream_url(tls_rabbit: Dict[str, str], name: str) -> str:
    return f"{tls_rabbit['AMQPS_URL']}?stream=push.python.tls.{name}.{time.time_ns()}"


def assert_tls_error(publish: Callable[[], str]) -> push.TlsError:
    started = time.monotonic()
    with pytest.raises(push.TlsError) as caught:
        publish()
    error = caught.value
    assert type(error) is push.TlsError and isinstance(error, push.PushError)
    assert (error.code, error.retryable, error.maybe_stored, error.status) == ("TLS_ERROR", False, False, None)
    assert "not signed by a trusted CA" in error.message
    # At once: a certificate problem is not retried until the producer's timeout (10 s).
    assert time.monotonic() - started < 5
    return error


def test_https_with_the_test_ca(tls_rabbit: Dict[str, str], https_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = tls_rabbit["CA_FILE"]
    assert push.Producer(https_url, ca_file=ca).publish("over https").to("/tls/https").isdigit()
    assert push.Producer(https_url, ca_file=Path(ca)).publish("path-like").to("/tls/https").isdigit()
    monkeypatch.setenv("PUSH_CA_FILE", ca)
    assert push.Producer(https_url).publish("from PUSH_CA_FILE").to("/tls/https").isdigit()


def test_https_refuses_an_unknown_ca(tls_rabbit: Dict[str, str], https_url: str) -> None:
    assert_tls_error(lambda: push.Producer(https_url, ca_file=tls_rabbit["OTHER_CA_FILE"]).publish("x").to("/tls/https"))
    assert_tls_error(lambda: push.Producer(https_url).publish("x").to("/tls/https"))  # the system's roots only


def test_amqps_with_the_test_ca(tls_rabbit: Dict[str, str]) -> None:
    with push.Producer(stream_url(tls_rabbit, "ok"), ca_file=tls_rabbit["CA_FILE"]) as producer:
        first = producer.publish("over amqps").to("/tls/amqps")
        second = producer.publish("again").to("/tls/amqps")
    assert int(second) > int(first)


def test_amqps_refuses_an_unknown_ca(tls_rabbit: Dict[str, str]) -> None:
    url = stream_url(tls_rabbit, "wrong")
    assert_tls_error(lambda: push.Producer(url, ca_file=tls_rabbit["OTHER_CA_FILE"]).publish("x").to("/tls/amqps"))


def test_asyncio_over_amqps(tls_rabbit: Dict[str, str]) -> None:
    async def main() -> str:
        async with push.AsyncProducer(stream_url(tls_rabbit, "aio"), ca_file=tls_rabbit["CA_FILE"]) as producer:
            return await producer.publish("async over amqps").to("/tls/aio")

    assert asyncio.run(main()).isdigit()


def test_the_default_producer_reads_push_ca_file(tls_rabbit: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_URL", stream_url(tls_rabbit, "default"))
    monkeypatch.setenv("PUSH_CA_FILE", tls_rabbit["CA_FILE"])
    try:
        assert push.publish("default over amqps", to="/tls/default").isdigit()
        # A changed PUSH_CA_FILE makes a new default producer, which refuses the certificate.
        monkeypatch.setenv("PUSH_CA_FILE", tls_rabbit["OTHER_CA_FILE"])
        assert_tls_error(lambda: push.publish("x", to="/tls/default"))
    finally:
        push.close_default()


def test_an_unreadable_ca_file_fails_when_the_producer_is_made(tmp_path: Path) -> None:
    with pytest.raises(push.TlsError, match="/nonexistent/ca.pem"):
        push.Producer("https://127.0.0.1:1", ca_file="/nonexistent/ca.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(push.TlsError, match="no PEM certificate"):
        push.Producer("amqps://127.0.0.1/%2f", ca_file=junk)
