"""Fixtures for webhooks: a real HTTP receiver on loopback, staff, and endpoint factories."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kb.webhooks.operations import register_endpoint
from kb.webhooks.outbox import WEBHOOK_EVENTS


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that records requests and answers from a script."""

    url: str
    requests: list[Received] = field(default_factory=list)
    # (status, body, delay seconds, extra headers), used in order; then `default`.
    script: list[tuple[int, str, float, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, str, float, dict[str, str]] = (200, "ok", 0.0, {})
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, status: int, body: str = "", delay: float = 0.0, **headers: str) -> Receiver:
        """Queue the answer to the next request."""
        self.script.append((status, body, delay, headers))
        return self

    def next_answer(self) -> tuple[int, str, float, dict[str, str]]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, text, delay, headers = receiver.next_answer()
            if delay:
                receiver.release.wait(delay)  # a slow receiver; teardown cuts the wait short
            data = text.encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the worker gave up waiting and hung up
                pass

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def local_receivers_allowed(app: Any) -> None:
    """The receivers here listen on loopback, which production settings refuse."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """Start receivers on free loopback ports; all stop at the end of the test."""
    started: list[tuple[ThreadingHTTPServer, Receiver, threading.Thread]] = []

    def make() -> Receiver:
        receiver = Receiver(url="")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        server.daemon_threads = True
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        started.append((server, receiver, thread))
        return receiver

    yield make
    for server, receiver, thread in started:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def receiver(make_receiver: Callable[[], Receiver]) -> Receiver:
    """One running receiver."""
    return make_receiver()


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    """A staff account named sam."""
    return make_user("sam", role="staff")


@pytest.fixture
def make_endpoint(staff: Any) -> Callable[..., Any]:
    """Register an endpoint: make_endpoint(url, events=("answer.created",))."""

    def make(url: str, events: Any = WEBHOOK_EVENTS) -> Any:
        return register_endpoint(staff, url=url, events=list(events))

    return make
