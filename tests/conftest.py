"""Shared fixtures: an app with its own database and index per test, and factories."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from kb import create_app
from kb.db import db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def app_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Settings for an isolated app: its own SQLite file and index directory."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
        "INDEX_DIR": str(tmp_path / "index"),
        "CONTENT_DIR": str(tmp_path / "content"),
        "INDEX_SYNC": True,
        "SEARCH_CACHE_SECONDS": 0.0,
        # Fast hashes keep the suite quick; production uses scrypt.
        "PASSWORD_METHOD": "pbkdf2:sha256:1000",
        "PUBLIC_BASE_URL": "https://kb.skylark.example",
    }
    config.update(extra)
    return config


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app with a fresh database and search index."""
    app = create_app(app_config(tmp_path))

    @app.teardown_request
    def _fresh_g(_exc: BaseException | None) -> None:
        # The fixture keeps one app context open, which test requests reuse: forget what a
        # request put in `g` (the logged-in user, the CSP nonce) as a real server would.
        from flask import g

        for name in list(g):
            g.pop(name, None)

    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        app.extensions["kb_search"].close()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (CSRF is on: use the `csrf_post` helper or fetch a token)."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the `kb` commands."""
    return app.test_cli_runner()


_counter = itertools.count(1)


@pytest.fixture
def make_user(app: Flask) -> Callable[..., Any]:
    """Create a user: make_user('ann', role='staff')."""
    from kb.users import create_user

    def make(name: str | None = None, *, role: str = "member", password: str = PASSWORD) -> Any:
        name = name or f"user{next(_counter)}"
        return create_user(name, email=f"{name}@example.com", password=password, role=role)

    return make


@pytest.fixture
def make_thread(app: Flask, make_user: Callable[..., Any]) -> Callable[..., Any]:
    """Ask a question: make_thread(title=..., body=..., tags=..., author=...)."""
    from kb.threads import ask_thread

    def make(
        title: str = "Hub 3 light is amber and nothing connects",
        body: str = "Since this morning the light on my Hub 3 is amber and no device connects.",
        tags: Any = ("router", "hub-3"),
        author: Any = None,
    ) -> Any:
        return ask_thread(author or make_user(), title=title, body=body, tags=list(tags))

    return make


@pytest.fixture
def make_answer(app: Flask, make_user: Callable[..., Any]) -> Callable[..., Any]:
    """Answer a thread: make_answer(thread, body=..., author=...)."""
    from kb.threads import post_answer

    def make(
        thread: Any,
        body: str = "Restart the hub by holding the power button for 10 s.",
        author: Any = None,
    ) -> Any:
        return post_answer(thread, author or make_user(), body=body)

    return make


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """A CSRF token from a page's form."""
    import re

    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> None:
    """Log a test client in through the real form."""
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def post_form(client: FlaskClient, path: str, data: dict[str, Any], token_from: str = "/") -> Any:
    """POST a form with a valid CSRF token taken from a page."""
    token = csrf_token(client, token_from)
    return client.post(path, data={**data, "csrf_token": token})
