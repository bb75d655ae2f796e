"""Security headers, cookies, safe redirects after login, and error pages without internals."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask

from kb import create_app
from kb.db import db
from kb.users import create_user
from tests.conftest import PASSWORD, app_config, csrf_token, login

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")
SITE = "https://kb.skylark.example"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Flask]:
    """An app whose requests each get their own app context, as in production.

    The shared `app` fixture keeps one app context pushed for the whole test, so `g`
    (where the CSP nonce and the current user live) would carry over between requests.
    """
    site = create_app(app_config(tmp_path))
    with site.app_context():
        db.create_all()
        create_user("ann", email="ann@example.com", password=PASSWORD)
    yield site
    with site.app_context():
        site.extensions["kb_search"].close()
        db.engine.dispose()


def build(tmp_path: Path, **config) -> Flask:
    """A fresh app with extra settings and its tables made."""
    app = create_app(app_config(tmp_path, **config))
    with app.app_context():
        db.create_all()
    return app


# ------------------------------------------------------------------ headers


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/login", 200),
        ("/search?q=wifi", 200),
        ("/articles", 200),
        ("/t/999", 404),
        ("/no/such/page", 404),
        ("/ask", 302),
        ("/static/css/site.css", 200),
    ],
)
def test_every_response_sends_the_security_headers(site, path, status):
    response = site.test_client().get(path)
    response.close()
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    assert NONCE.search(csp)
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_each_request_gets_its_own_nonce(site):
    client = site.test_client()
    nonces = {
        NONCE.search(client.get("/").headers["Content-Security-Policy"]).group(1) for _ in range(3)
    }
    assert len(nonces) == 3


def test_inline_scripts_carry_this_responses_nonce(site):
    @site.get("/__script")
    def script_page() -> str:
        from flask import render_template_string

        return render_template_string('<script nonce="{{ csp_nonce() }}">1</script>')

    response = site.test_client().get("/__script")
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in response.get_data(as_text=True)


# ------------------------------------------------------------------ cookies


def session_cookie_header(app: Flask) -> str:
    """The Set-Cookie header that starts a session (a login page hands out a CSRF session)."""
    response = app.test_client().get("/login")
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def test_session_cookie_is_httponly_samesite_lax_and_secure_on_https(tmp_path):
    app = build(tmp_path, PUBLIC_BASE_URL="https://kb.skylark.example")
    header = session_cookie_header(app)
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" in header


def test_session_cookie_is_not_secure_on_plain_http(tmp_path):
    app = build(tmp_path, PUBLIC_BASE_URL="http://127.0.0.1:5000")
    header = session_cookie_header(app)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header


def test_login_cookie_has_the_same_flags(site):
    client = site.test_client()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header


# ------------------------------------------------------------ login redirect


def where_a_browser_goes(location: str) -> str:
    """The host a browser lands on: it drops tabs and newlines and reads \\ as /."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip().replace("\\", "/")
    return urlsplit(urljoin(f"{SITE}/login", cleaned)).netloc


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "https:evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "/\\/evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        " //evil.com",
        "javascript:alert(1)",
        "evil.com",
        "///evil.com",
    ],
)
def test_login_next_cannot_leave_the_site(site, target):
    client = site.test_client()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"name": "ann", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert where_a_browser_goes(location) == urlsplit(SITE).netloc, location
    assert location.startswith("/") and not location.startswith("//"), location
    assert not re.search(r"[\\\x00-\x20]", location), location


@pytest.mark.parametrize("target", ["/t/1/some-thread", "/search?q=wifi+drops", "/ask"])
def test_login_next_goes_back_to_a_page_on_the_site(site, target):
    client = site.test_client()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"name": "ann", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == target
    assert not urlsplit(location).netloc


def test_login_link_on_a_page_points_back_to_it(site):
    html = site.test_client().get("/tags").get_data(as_text=True)
    assert 'href="/login?next=/tags"' in html


def test_login_required_page_sends_you_back_after_login(site):
    client = site.test_client()
    response = client.get("/ask")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    token = csrf_token(client, login_url)
    done = client.post(login_url, data={"name": "ann", "password": PASSWORD, "csrf_token": token})
    assert done.headers["Location"] == "/ask"


# --------------------------------------------------------------- error pages


def test_a_crash_shows_a_friendly_page_without_internals(tmp_path):
    app = build(tmp_path)

    @app.get("/__boom")
    def boom() -> str:
        secret = "s3cr3t-internal-detail"
        raise RuntimeError(f"database password is {secret}")

    response = app.test_client().get("/__boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "s3cr3t-internal-detail" not in html
    assert "Traceback" not in html and "RuntimeError" not in html and ".py" not in html
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize(
    ("method", "path", "status", "text"),
    [
        ("GET", "/t/424242", 404, "Page not found"),
        ("GET", "/u/nobody-here", 404, "Page not found"),
        ("POST", "/", 405, "That action isn't available here"),
        ("POST", "/login", 400, "Your form expired or came from another site"),
    ],
)
def test_error_pages_are_friendly(site, method, path, status, text):
    response = site.test_client().open(path, method=method)
    html = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == status
    assert text in html
    assert "Traceback" not in html and "werkzeug" not in html.lower()
    assert 'name="q"' in html  # a search box to carry on with


def test_logged_in_user_stays_logged_in_on_error_pages(site):
    client = site.test_client()
    login(client, "ann")
    html = client.get("/t/424242").get_data(as_text=True)
    assert 'href="/u/ann" class="me"' in html
