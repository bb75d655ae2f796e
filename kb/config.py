"""Settings in layers: defaults, instance/kb.cfg, KB_* environment variables, the test mapping."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask


class Defaults:
    """Built-in defaults; every one can be overridden by the later layers."""

    SITE_NAME = "Skylark Community"
    BRAND_NAME = "Skylark"
    # The public base URL used in links that leave the site (concierge replies, feeds).
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    DATABASE_URL = ""  # empty: SQLite in the instance folder
    INDEX_DIR = ""  # empty: instance/index
    CONTENT_DIR = ""  # empty: content/ beside the package
    SQLITE_BUSY_TIMEOUT = 5.0
    MAX_CONTENT_LENGTH = 1024 * 1024
    PAGE_SIZE = 20
    RENDER_TIMEOUT = 1.0
    # Apply pending index changes inline after each commit (tests, one-shot commands).
    INDEX_SYNC = False
    SEARCH_CACHE_SECONDS = 1.0
    # Decoded posting lists of common words, kept by each process for search (LRU, MB).
    SEARCH_POSTINGS_MB = 24
    # Thread pages for logged-out readers, kept in memory by each worker process (LRU, this
    # many MB per process; 0 turns the cache off). A write to the thread shows at once; what
    # lives outside it (authors' reputation, related questions, "2 hours ago") may lag by up to
    # PAGE_CACHE_SECONDS.
    PAGE_CACHE_MB = 32
    PAGE_CACHE_SECONDS = 60.0
    PASSWORD_METHOD = "scrypt"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    PREFERRED_URL_SCHEME = "http"

    # The concierge's X account (secrets come from KB_X_* environment variables only).
    X_API_KEY = ""
    X_API_SECRET = ""
    X_ACCESS_TOKEN = ""
    X_ACCESS_SECRET = ""
    X_API_BASE = ""  # empty: X's real API; e.g. http://127.0.0.1:8787 for the stand-in
    X_CONNECT_TIMEOUT = 3.05
    X_READ_TIMEOUT = 10.0
    CONCIERGE_AUTOSEND = False
    CONCIERGE_AUTOSEND_THRESHOLD = 0.75
    CONCIERGE_MATCH_THRESHOLD = 0.4
    CONCIERGE_POLL_SECONDS = 15.0
    CONCIERGE_HOURLY_BUDGET = 200
    CONCIERGE_AUTHOR_HOURLY_BUDGET = 3
    CONCIERGE_BOT_HANDLES = ""

    # Outgoing mail for `kb digest send` (the password comes from KB_SMTP_PASSWORD only).
    SMTP_HOST = ""  # empty: email is off
    SMTP_PORT = 25
    SMTP_USER = ""
    SMTP_PASSWORD = ""
    SMTP_FROM = ""
    SMTP_STARTTLS = False
    SMTP_TIMEOUT = 10.0


def init_app(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Load the settings layers into app.config and fill in derived paths."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("kb.cfg", silent=True)
    app.config.from_prefixed_env("KB")
    if test_config:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'kb.sqlite3'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config["INDEX_DIR"]:
        app.config["INDEX_DIR"] = str(instance / "index")
    if not app.config["CONTENT_DIR"]:
        app.config["CONTENT_DIR"] = str(Path(app.root_path).parent / "content")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_BASE_URL"].startswith("https://")


def _instance_secret(path: Path) -> str:
    """Read the generated secret key, creating it (readable only by us) on first run."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
    except OSError:
        return secrets.token_hex(32)
