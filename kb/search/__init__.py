"""The search interface: index, delete, search, suggest. Only the backend touches Whoosh."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from kb.db import db
from kb.search.types import SearchDoc, SearchHit, SearchResults

__all__ = [
    "SearchDoc",
    "SearchHit",
    "SearchResults",
    "backend",
    "init_app",
    "queue_index",
    "search",
    "suggest",
]


def backend() -> Any:
    """The current app's search backend."""
    return current_app.extensions["kb_search"]


def search(text: str, **filters: Any) -> SearchResults:
    """Search threads and articles; see WhooshBackend.search for the filters."""
    return backend().search(text, **filters)


def suggest(text: str) -> str | None:
    """A 'did you mean' rewrite built from the index's own words."""
    return backend().suggest(text)


def queue_index(kind: str, db_id: int) -> None:
    """Record that a document changed, in the caller's transaction."""
    from kb.models import IndexJob

    db.session.add(IndexJob(doc_kind=kind, doc_id=db_id))
    db.session.info["kb_index_dirty"] = True


class _Wakeup:
    """Wakes the in-process indexer thread right after a commit that queued work."""

    def __init__(self) -> None:
        self.event = threading.Event()


def init_app(app: Flask) -> None:
    """Create the backend for this app and hook index updates onto commits."""
    from kb.search.whoosh_backend import WhooshBackend

    app.extensions["kb_search"] = WhooshBackend(
        app.config["INDEX_DIR"],
        refresh_seconds=float(app.config["SEARCH_CACHE_SECONDS"]),
        cache_mb=float(app.config["SEARCH_POSTINGS_MB"]),
    )
    wake = _Wakeup()
    app.extensions["kb_index_wakeup"] = wake

    @event.listens_for(db.session, "after_commit")
    def _after_commit(session: Session) -> None:
        from flask import current_app as app_now

        # Every app made in this process adds a listener to the shared session: only the
        # current app's listener may take the flag, or an older one would swallow it.
        if app_now.extensions.get("kb_index_wakeup") is not wake:
            return
        if not session.info.pop("kb_index_dirty", False):
            return
        if app_now.config["INDEX_SYNC"]:
            from kb.search.indexer import process_pending

            process_pending()
        else:
            wake.event.set()

    @event.listens_for(db.session, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop("kb_index_dirty", None)
