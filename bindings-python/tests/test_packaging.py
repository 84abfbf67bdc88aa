"""The wheel: built by maturin, installed into a fresh venv, imported from outside the source
tree, publishing and signing a token. Set PUSH_SKIP_PACKAGING=1 to skip it in quick local runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, Server

PACKAGE = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.environ.get("PUSH_SKIP_PACKAGING") == "1", reason="PUSH_SKIP_PACKAGING=1")


def test_wheel_installs_into_a_fresh_venv_and_publishes(server: Server, tmp_path: Path) -> None:
    maturin = shutil.which("maturin", path=str(Path(sys.executable).parent)) or shutil.which("maturin")
    assert maturin, "maturin is not installed"
    dist = tmp_path / "dist"
    env = {**os.environ, "CARGO_TARGET_DIR": os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))}
    subprocess.run([maturin, "build", "--release", "--quiet", "--out", str(dist)], cwd=PACKAGE, env=env, check=True)
    [wheel] = dist.glob("*.whl")
    assert wheel.name.startswith("push_rs-") and "-abi3-" in wheel.name, wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for part in ["push/__init__.py", "push/aio.py", "push/_errors.py", "push/_push.pyi", "push/py.typed"]:
        assert part in names
    assert any(n.startswith("push/_push.") and n.endswith(".so") for n in names), names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index", str(wheel)], check=True)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    script = (
        "import push, sys\n"
        "assert 'bindings-python' not in push.__file__, push.__file__\n"
        "print(push.__file__)\n"
        "print(push.Producer().publish('from the wheel').to('/wheel'))\n"
        "print(push.Token.sign('/rooms/*', consumer='alice', expires_at=2000000000))\n"
    )
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean_env["PUSH_URL"] = server.url
    clean_env["PUSH_SECRET"] = "s3cret"
    run = subprocess.run([str(python), "-c", script], cwd=outside, env=clean_env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    location, message_id, token = run.stdout.split()
    assert token == "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY"
    assert location.startswith(str(venv))
    assert [(m["id"], m["data"]) for m in server.messages("/wheel")] == [(message_id, "from the wheel")]
