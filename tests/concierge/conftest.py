"""Fixtures for the X gateway and the X API stand-in, which runs as a real subprocess."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kb.concierge.x_api import XGateway

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = {
    "api_key": "standin-key",
    "api_secret": "standin-secret",
    "access_token": "1500000000000000001-standintoken",
    "access_secret": "standin-access-secret",
}
ACCOUNT_ID = "1500000000000000001"
ACCOUNT = "SkylarkHelps"
READY_LINE = re.compile(r"X stand-in listening on (http://\S+)")


class Standin:
    """Drives the stand-in's test endpoints (no OAuth) from a test."""

    def __init__(self, url: str, session: requests.Session) -> None:
        self.url = url
        self.session = session

    def _post(self, path: str, body: Any) -> Any:
        response = self.session.post(f"{self.url}/_standin/{path}", json=body, timeout=10)
        assert response.ok, response.text
        return response.json()

    def tweet(self, author: str, text: str, **extra: Any) -> dict[str, Any]:
        """Post a customer's tweet and return it."""
        return self._post("tweets", {"author": author, "text": text, **extra})["data"]

    def tweets(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post many customer tweets in one request and return them."""
        return self._post("tweets", specs)["data"]

    def posted(self) -> list[dict[str, Any]]:
        """Return what the account has posted."""
        response = self.session.get(f"{self.url}/_standin/posted", timeout=10)
        return response.json()["data"]

    def faults(self, mode: str, count: int = 1, **extra: Any) -> None:
        """Make the next `count` API requests fail in `mode`."""
        self._post("faults", {"mode": mode, "count": count, **extra})

    def limits(self, **limits: int) -> None:
        """Set the rate limits and start fresh windows."""
        self._post("limits", limits)

    def reset(self) -> None:
        """Forget all state."""
        self._post("reset", {})


def _wait_for_ready(proc: subprocess.Popen[str], log_path: Path, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                line = proc.stdout.readline()
                match = READY_LINE.search(line)
                if match:
                    return match.group(1)
                if not line:
                    break
    raise RuntimeError(f"the X stand-in did not start:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def standin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the stand-in as a subprocess on a free loopback port and return its base URL."""
    log_path = tmp_path_factory.mktemp("standin") / "standin.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "kb.concierge.standin", "--host", "127.0.0.1", "--port", "0"]
    with open(log_path, "w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env, cwd=ROOT
        )
        try:
            yield _wait_for_ready(proc, log_path, timeout=15)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()


@pytest.fixture
def standin(standin_url: str) -> Iterator[Standin]:
    """Return a controller for a freshly reset stand-in."""
    with requests.Session() as session:
        control = Standin(standin_url, session)
        control.reset()
        yield control


@pytest.fixture
def make_gateway(standin: Standin) -> Iterator[Callable[..., XGateway]]:
    """Return a factory of gateways pointed at the stand-in; all are closed at teardown."""
    made: list[XGateway] = []

    def make(**overrides: Any) -> XGateway:
        options: dict[str, Any] = {**CREDENTIALS, "base_url": standin.url, "timeout": (2.0, 3.0)}
        gateway = XGateway(**(options | overrides))
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., XGateway]) -> XGateway:
    """Return a gateway with the right credentials."""
    return make_gateway()
