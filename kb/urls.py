"""Canonical paths that work outside a request (CLI, concierge worker, feeds)."""

from __future__ import annotations

from flask import current_app

from kb.models import slugify


def thread_path(thread_id: int, title: str, answer_id: int | None = None) -> str:
    """/t/<id>/<slug>, optionally with an answer's anchor."""
    path = f"/t/{thread_id}/{slugify(title)}"
    return f"{path}#answer-{answer_id}" if answer_id else path


def article_path(slug: str) -> str:
    """/a/<slug>."""
    return f"/a/{slug}"


def external(path: str) -> str:
    """An absolute URL on the site's public base URL."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
