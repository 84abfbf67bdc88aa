"""Ctrl-C (SIGINT) in a process that uses push: a blocking publish (or server API call) raises
KeyboardInterrupt at once, on the main thread, also while other threads publish; an in-process server is stopped
by the `with` block it runs in; `python -m push` stops gracefully.

Each case runs a real Python child process and sends it SIGINT. The children start with SIGINT
at its default action, as from a terminal (see `spawn`): a suite started as a background job of
a non-interactive shell inherits SIGINT *ignored* (POSIX), and Python keeps an inherited
ignored SIGINT ignored, so without that step no Ctrl-C would ever reach a child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Iterator, List

import pytest

from conftest import Silent, free_port, wait_until

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(args: List[str]) -> "subprocess.Popen[str]":
    """A child Python process (or any command) whose SIGINT starts at its default action."""
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_sigint_as_from_a_terminal,
    )


def python(script: str) -> "subprocess.Popen[str]":
    return spawn([sys.executable, "-c", textwrap.dedent(script)])


@pytest.fixture
def ignoring_sigint() -> Iterator[None]:
    """This process ignores SIGINT for the test, as a suite run with `cmd &` or nohup does."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, previous)


def wait_line(child: "subprocess.Popen[str]") -> str:
    assert child.stdout is not None
    return child.stdout.readline()


def ctrl_c_during_publish(silent: Silent, threads: int, call: str = 'producer.publish("x").to("/ctrl-c")') -> None:
    """A child publishes on its main thread (and on `threads` others) to a server that never
    answers; SIGINT once every publish has connected must end the main one at once. `call` is
    what the main thread waits on."""
    child = python(
        f"""
        import threading, time, push
        producer = push.Producer({silent.url!r}, timeout=30)
        for _ in range({threads}):
            threading.Thread(target=lambda: producer.publish("y").to("/other"), daemon=True).start()
        print("waiting", flush=True)
        started = time.monotonic()
        try:
            {call}
        except KeyboardInterrupt:
            print(f"interrupted after {{time.monotonic() - started:.2f}} s", flush=True)
        """
    )
    try:
        assert wait_line(child) == "waiting\n"
        wait_until(lambda: len(silent.accepted) >= threads + 1, "every publish of the child to connect")
        child.send_signal(signal.SIGINT)
        line = wait_line(child)
        assert line.startswith("interrupted after "), line + (child.stdout.read() if child.stdout else "")
        assert float(line.split()[2]) < 5, line
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()


def test_ctrl_c_interrupts_a_blocking_publish(silent: Silent) -> None:
    ctrl_c_during_publish(silent, threads=0)


def test_ctrl_c_interrupts_a_blocking_publish_while_other_threads_publish(silent: Silent) -> None:
    ctrl_c_during_publish(silent, threads=3)


@pytest.mark.parametrize(
    "call",
    [
        'producer.channel("/ctrl-c").info()',
        'producer.channel("/ctrl-c").history(last=1)',
        'producer.channels("/ctrl-c/")',
        'producer.disconnect("alice", ban=60)',
        'producer.publish("x").to("/a", "/b")',
    ],
)
def test_ctrl_c_interrupts_a_blocking_server_api_call(silent: Silent, call: str) -> None:
    ctrl_c_during_publish(silent, threads=0, call=call)


def test_ctrl_c_reaches_the_child_when_this_suite_ignores_sigint(silent: Silent, ignoring_sigint: None) -> None:
    ctrl_c_during_publish(silent, threads=0)


def test_ctrl_c_stops_an_in_process_server_in_a_with_block() -> None:
    child = python(
        """
        import threading, urllib.request, push
        try:
            with push.Server() as server:
                urllib.request.urlopen(server.url + "/_push/health", timeout=10).read()
                print(server.url, flush=True)
                threading.Event().wait()
        except KeyboardInterrupt:
            print("interrupted", server.running, flush=True)
        """
    )
    try:
        url = wait_line(child).strip()
        assert url.startswith("http://127.0.0.1:"), url + (child.stdout.read() if child.stdout else "")
        child.send_signal(signal.SIGINT)
        assert wait_line(child) == "interrupted False\n"
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()


def test_ctrl_c_stops_python_m_push_gracefully() -> None:
    port = free_port()
    child = spawn([sys.executable, "-m", "push", "--bind", f"127.0.0.1:{port}"])
    try:
        import urllib.request

        def ready() -> bool:
            try:
                status: int = urllib.request.urlopen(f"http://127.0.0.1:{port}/_push/health", timeout=2).status
                return status == 200
            except OSError:
                return False

        wait_until(ready, "python -m push to answer")
        child.send_signal(signal.SIGINT)
        assert child.wait(10) == 0, child.stdout.read() if child.stdout else ""
    finally:
        child.kill()
        child.wait()
