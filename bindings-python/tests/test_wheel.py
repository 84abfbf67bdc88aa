"""The wheel, as a user gets it: built by scripts/package (or $PUSH_WHEEL), installed into a fresh
venv with no Rust toolchain on PATH, then the seed flow through the package's own `push-server`
console script: curl long-polls, the package's one-line API publishes 'hi there!', curl prints it,
SIGTERM stops the server with exit code 0. One test: it builds and installs a whole package.
Set PUSH_SKIP_PACKAGING=1 to skip it in quick local runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, Optional

import pytest

from conftest import VECTOR, free_port, wait_for_long_polls, wait_until

PACKAGE = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.environ.get("PUSH_SKIP_PACKAGING") == "1", reason="PUSH_SKIP_PACKAGING=1")


def build_wheel(out: Path) -> Path:
    if os.environ.get("PUSH_WHEEL"):
        return Path(os.environ["PUSH_WHEEL"])
    # The package script reuses the crates ci.sh compiled (same CARGO_TARGET_DIR).
    run = subprocess.run([str(PACKAGE / "scripts" / "package"), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return Path(run.stdout.strip().splitlines()[-1])


def without_rust(venv: Path) -> Dict[str, str]:
    """The environment of a user without Rust: no cargo or rustc on PATH, no PUSH_* settings."""
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and "cargo" not in p and "rustc" not in p
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSH_", "CARGO", "RUSTUP")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{path}"
    assert shutil.which("cargo", path=env["PATH"]) is None and shutil.which("rustc", path=env["PATH"]) is None
    return env


def healthy(url: str, server: "subprocess.Popen[bytes]") -> bool:
    assert server.poll() is None, f"push-server exited with {server.returncode}"
    try:
        with urllib.request.urlopen(url + "/_push/health", timeout=1) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def test_the_wheel_installs_without_rust_and_its_push_server_serves_the_seed_flow(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    assert wheel.name.startswith("push_rs-") and "-cp39-abi3-" in wheel.name, wheel.name
    # Linked against glibc 2.17 (scripts/package checks the symbols and runs auditwheel show).
    assert os.environ.get("PUSH_WHEEL") or "manylinux_2_17_x86_64" in wheel.name, wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for part in ["push/__init__.py", "push/__main__.py", "push/aio.py", "push/_errors.py", "push/_push.pyi", "push/py.typed"]:
        assert part in names
    # Turbo Streams / htmx and the template integrations (issue 31).
    for part in ["push/turbo.py", "push/htmx.py", "push/_html.py", "push/jinja.py", "push/_templates.py", "push/django/__init__.py", "push/django/apps.py", "push/django/templatetags/__init__.py", "push/django/templatetags/push.py"]:
        assert part in names, part
    assert any(n.startswith("push/_push.") and n.endswith(".so") for n in names), names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = without_rust(venv)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", "--no-deps", str(wheel)], env=env, check=True)
    push_server = shutil.which("push-server", path=env["PATH"])
    assert push_server == str(venv / "bin" / "push-server")

    # The command line is the Cargo binary's: --help exits 0, a bad flag 2.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    helped = subprocess.run([python, "-m", "push", "--help"], env=env, cwd=outside, capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "Usage: push-server" in helped.stdout and "--long-poll-timeout" in helped.stdout, helped
    bad = subprocess.run([push_server, "--no-such-flag"], env=env, cwd=outside, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--no-such-flag" in bad.stderr, bad

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([push_server, "--bind", f"127.0.0.1:{port}"], env=env, cwd=outside, stderr=subprocess.PIPE)
    curl: Optional["subprocess.Popen[bytes]"] = None
    try:
        wait_until(lambda: healthy(url, server), "push-server to answer /_push/health", timeout=30)
        curl = subprocess.Popen(["curl", "-s", f"{url}/greetings"], stdout=subprocess.PIPE)
        wait_for_long_polls(url, 1, timeout=15)

        publish = (
            "import push\n"
            "assert 'bindings-python' not in push.__file__, push.__file__\n"
            "push.Producer().publish('hi there!').to('/greetings')\n"
            # Turbo/htmx helpers and the template modules import in a venv without Jinja2 or Django.
            "import push.jinja, push.django\n"
            "assert push.turbo.stream_source_tag('/r', token=False, url='http://x') == '<turbo-stream-source src=\"http://x/r?gap=turbo-refresh\"></turbo-stream-source>'\n"
            "print(push.__file__)\n"
            "print(push.Token.sign('/rooms/*', consumer='alice', expires_at=2000000000, secret='s3cret'))\n"
        )
        published = subprocess.run([python, "-c", publish], env={**env, "PUSH_URL": url}, cwd=outside, capture_output=True, text=True, timeout=30)
        assert published.returncode == 0, published.stderr
        location, token = published.stdout.split()
        assert location.startswith(str(venv)) and token == VECTOR

        out, _ = curl.communicate(timeout=15)
        assert (curl.returncode, out) == (0, b"hi there!")

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if curl is not None and curl.poll() is None:
            curl.kill()
            curl.wait()
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stderr:
            server.stderr.close()
