"""The Flask and FastAPI examples, driven through their frameworks' test clients against a
real push-server. Skipped when the framework is not installed (ci.sh installs both)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from conftest import Server

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flask_example(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask")
    monkeypatch.setenv("PUSH_URL", server.url)
    client = load("flask_app").app.test_client()

    ok = client.post("/rooms/lobby/messages", data="hello from flask")
    assert ok.status_code == 201
    assert [(m["id"], m["data"]) for m in server.messages("/rooms/lobby")] == [(ok.json["id"], "hello from flask")]

    bad = client.post("/rooms/sp%20ace/messages", data="x")  # no spaces in channel names
    assert bad.status_code == 400 and bad.json["code"] == "INVALID_CHANNEL"


def test_fastapi_example(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    monkeypatch.setenv("PUSH_URL", server.url)
    with TestClient(load("fastapi_app").app) as client:
        ok = client.post("/rooms/lobby/messages", json={"text": "hello from fastapi"})
        assert ok.status_code == 201, ok.text
        assert ok.json()["channel"] == "/rooms/lobby"
    [message] = server.messages("/rooms/lobby")
    assert message["id"] == ok.json()["id"]
    assert message["content_type"] == "application/json"
    assert json.loads(message["data"]) == {"text": "hello from fastapi"}
