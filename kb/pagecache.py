"""The page cache: pages for logged-out readers, kept in memory per process (LRU by size).

One cached page is served to every anonymous reader, so it holds nothing bound to a session or
to one response. The CSP nonce and CSRF tokens (the "was this helpful?" form takes anonymous
answers, and its POST needs a token tied to the reader's own session) are rendered as
placeholders and filled in for each response by `respond`: every reader gets a fresh nonce and
a token for their own session, exactly as without the cache, and no reader's token is ever
shown to another. The caller keys pages by a version read from the database, so a write shows
at once; the age limit bounds what the version does not cover (data from other rows, relative
times).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, render_template, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from kb.lru import ByteLRU
from kb.security import csp_nonce

# Bookkeeping per entry beyond the page itself (key, entry object, dict slot), roughly.
ENTRY_OVERHEAD = 300


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered page with placeholders, and the version of the data it shows."""

    version: int
    body: bytes
    created: float
    needs_csrf: bool


class PageCache:
    """Pages by key, dropped least recently used first when they pass `max_bytes` in all."""

    def __init__(self, max_bytes: int, max_age: float) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._pages: ByteLRU[CachedPage] = ByteLRU(max_bytes, _cost, max_item=max_bytes)
        # Random per cache: no post can contain them, so only our placeholders are replaced.
        tag = secrets.token_hex(12)
        self.nonce_mark = f"kb-nonce-{tag}"
        self.csrf_mark = f"kb-csrf-{tag}"

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size(self) -> int:
        """Bytes the kept pages take, bookkeeping included."""
        return self._pages.used

    def get(self, key: str, version: int) -> CachedPage | None:
        """The page kept for key if it shows this version and is young enough, else None."""
        page = self._pages.get(key)
        if page is None or page.version != version:
            return None
        if time.monotonic() - page.created > self.max_age:
            self._pages.pop(key)
            return None
        return page

    def put(self, key: str, version: int, body: bytes) -> CachedPage:
        """Keep a rendered page (replacing the key's older one) and return it."""
        page = CachedPage(version, body, time.monotonic(), self.csrf_mark.encode() in body)
        self._pages.put(key, page)
        return page


def _cost(key: Hashable, page: CachedPage) -> int:
    return len(page.body) + len(str(key)) + ENTRY_OVERHEAD


def page_cache() -> PageCache:
    """This app's page cache."""
    cache: PageCache = current_app.extensions["kb_page_cache"]
    return cache


def shareable() -> bool:
    """Whether this request may be served from (and fill) the cache: a logged-out GET."""
    return (
        request.method == "GET"
        and page_cache().max_bytes > 0
        and "_flashes" not in session  # a pending message is for this reader only
        and not current_user.is_authenticated
    )


def render(template: str, **context: Any) -> bytes:
    """Render a page to share between readers, with placeholders for nonce and CSRF tokens."""
    cache = page_cache()
    return render_template(
        template,
        **context,
        csp_nonce=lambda: cache.nonce_mark,
        csrf_token=lambda: cache.csrf_mark,
    ).encode()


def respond(page: CachedPage) -> Response:
    """An HTML response from a cached page: this response's nonce, this session's CSRF token."""
    cache = page_cache()
    body = page.body.replace(cache.nonce_mark.encode(), csp_nonce().encode())
    if page.needs_csrf:
        body = body.replace(cache.csrf_mark.encode(), generate_csrf().encode())
    return current_app.response_class(body, mimetype="text/html")


def init_app(app: Flask) -> None:
    """Give the app its own (empty) page cache; each worker process fills its own."""
    max_bytes = int(float(app.config["PAGE_CACHE_MB"]) * 1024 * 1024)
    app.extensions["kb_page_cache"] = PageCache(
        max(0, max_bytes), float(app.config["PAGE_CACHE_SECONDS"])
    )
