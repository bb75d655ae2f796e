"""Browser tests: Debian's Chromium driven by Playwright against a real `kb serve`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Without Chromium, skip browser tests locally; under CI they must run."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI=true but {CHROMIUM} is missing: run `make test` as root")
    marker = pytest.mark.skip(reason=f"{CHROMIUM} not installed (make test installs it as root)")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium headless, without reaching out to the network."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 20.0) -> None:
    """Wait until a URL answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`kb serve` in a subprocess with its own database, index and content."""
    port = free_port()
    env = {
        **os.environ,
        "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
        "KB_INDEX_DIR": str(tmp_path / "index"),
        "KB_SECRET_KEY": "browser-test",
        "KB_PASSWORD_METHOD": "pbkdf2:sha256:1000",
        "KB_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    kb = [sys.executable, "-m", "kb.cli"]
    subprocess.run([*kb, "init"], env=env, check=True, capture_output=True, cwd=ROOT)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [*kb, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/")
        yield {"url": base, "env": env, "tmp": tmp_path}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def shot() -> Any:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


BROWSER_PASSWORD = "browser-test-pass"


def register(page: Any, base: str, name: str, password: str = BROWSER_PASSWORD) -> None:
    """Create an account through the form (it logs the new member in)."""
    from playwright.sync_api import expect

    page.goto(f"{base}/register")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Welcome, {name}")


__all__ = ["free_port", "wait_for", "shutil", "register"]
