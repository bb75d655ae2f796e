"""Search as the site and the concierge use it: the search page and `match`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kb.db import db
from kb.models import Article, Thread
from kb.search import backend
from kb.search.types import SearchHit
from kb.urls import article_path, thread_path
from kb.urls import external as to_external
from kb.validation import TAG_RE

MAX_QUERY = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
STATES = {"solved": "solved", "unsolved": "open"}
KINDS = {"thread", "article"}


def normalize_query(text: object) -> str:
    """A query with control characters gone, whitespace collapsed, and a sane length."""
    raw = text if isinstance(text, str) else ""
    raw = unicodedata.normalize("NFKC", raw[: MAX_QUERY * 4])
    return " ".join(_CONTROL.sub(" ", raw).split())[:MAX_QUERY]


@dataclass
class SearchPage:
    """Everything the search page shows."""

    query: str
    hits: list[SearchHit] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    total: int = 0
    suggestion: str | None = None
    corrected_from: str | None = None
    tag: str = ""
    state: str = ""
    kind: str = ""
    has_next: bool = False


def article_slugs(ids: list[int]) -> dict[int, str]:
    """Slugs of the articles with these ids."""
    if not ids:
        return {}
    rows = db.session.execute(select(Article.id, Article.slug).where(Article.id.in_(ids)))
    return {article_id: slug for article_id, slug in rows}


def hit_urls(
    hits: list[SearchHit], external: bool = False, slugs: dict[int, str] | None = None
) -> dict[str, str]:
    """Canonical URLs for hits, keyed by 'kind:id' (pass `slugs` if already loaded)."""
    urls: dict[str, str] = {}
    if slugs is None:
        slugs = article_slugs([h.db_id for h in hits if h.kind == "article"])
    for hit in hits:
        key = f"{hit.kind}:{hit.db_id}"
        if hit.kind == "thread":
            urls[key] = thread_path(hit.db_id, hit.title)
        elif hit.db_id in slugs:
            urls[key] = article_path(slugs[hit.db_id])
    if external:
        urls = {k: to_external(v) for k, v in urls.items()}
    return urls


def run_search(
    q: object, *, tag: str = "", state: str = "", kind: str = "", page: int = 1, per_page: int = 20
) -> SearchPage:
    """Search for the search page: filters checked, typos tolerated, never an error."""
    query = normalize_query(q)
    tag = tag if TAG_RE.match(tag or "") and len(tag) <= 30 else ""
    state = state if state in STATES else ""
    kind = kind if kind in KINDS else ""
    result = SearchPage(query=query, tag=tag, state=state, kind=kind)
    if not query:
        return result
    filters: dict[str, Any] = {
        "tag": tag or None,
        "state": STATES.get(state),
        "kind": kind or None,
        "offset": (page - 1) * per_page,
        "limit": per_page + 1,
    }
    found = backend().search(query, **filters)
    if not found.hits and page == 1:
        suggestion = backend().suggest(query)
        if suggestion:
            retry = backend().search(suggestion, **filters)
            if retry.hits:
                result.corrected_from, query, found = query, suggestion, retry
                result.query = suggestion
    elif len(found.hits) < 3 and page == 1:
        result.suggestion = backend().suggest(query)
    if page == 1 and not (tag or state or kind) and _nothing_good(query, found.hits):
        from kb.gaps import record_gap

        db.session.rollback()  # a fresh write transaction (see kb.shortlinks.record_click)
        record_gap(result.corrected_from or query, "search")
        db.session.commit()
    result.has_next = len(found.hits) > per_page
    result.hits = found.hits[:per_page]
    result.total = found.total
    result.urls = hit_urls(result.hits)
    return result


def _nothing_good(query: str, hits: list[SearchHit]) -> bool:
    """No hit, or the best one shares less than half of the query's words."""
    terms = set(backend().analyze(query))
    if not terms:
        return False
    if not hits:
        return True
    top = hits[0]
    covered = terms & set(backend().analyze(f"{top.title} {' '.join(top.tags)} {top.body_start}"))
    return len(covered) / len(terms) < WEAK_SCORE


def match(text: object, limit: int = 5) -> list[dict[str, Any]]:
    """The best threads and articles for a free-text question (the concierge's matcher)."""
    query = normalize_query(clean_question(text))
    if not query:
        return []
    limit = max(1, min(int(limit), 50))
    found = backend().search(query, offset=0, limit=limit, mode="any", snippets=False)
    return describe_hits(found.hits)


def describe_hits(hits: list[SearchHit]) -> list[dict[str, Any]]:
    """Hits as `kb match` prints them: kind, id, key (thread key or article slug), url..."""
    slugs = article_slugs([h.db_id for h in hits if h.kind == "article"])
    urls = hit_urls(hits, external=True, slugs=slugs)
    keys: dict[int, str | None] = {}
    thread_ids = [h.db_id for h in hits if h.kind == "thread"]
    if thread_ids:
        rows = db.session.execute(select(Thread.id, Thread.key).where(Thread.id.in_(thread_ids)))
        keys = {thread_id: key for thread_id, key in rows}
    return [
        {
            "kind": hit.kind,
            "id": hit.db_id,
            "key": keys.get(hit.db_id) if hit.kind == "thread" else slugs.get(hit.db_id),
            "title": hit.title,
            "url": urls.get(f"{hit.kind}:{hit.db_id}", ""),
            "score": round(hit.score, 4),
            "solved": hit.state in ("solved", "article"),
        }
        for hit in hits
    ]


WEAK_SCORE = 0.5  # a best hit covering less of the query than this counts as "nothing good"


def clean_question(text: object) -> str:
    """A question or tweet as plain words: handles, links, emoji and slang handled."""
    from kb.concierge.cleaning import clean_tweet
    from kb.concierge.matching import slang_table

    raw = text if isinstance(text, str) else ""
    return clean_tweet(raw[: MAX_QUERY * 4], account_handle="", slang=slang_table(brand=False))


def similar_threads(
    title: object, limit: int = 5, exclude: int | None = None
) -> list[dict[str, Any]]:
    """Threads like a question title, solved first, with the accepted answer's first line."""
    from kb.models import Answer
    from kb.views.helpers import opening_sentence

    query = normalize_query(clean_question(title))
    if len(backend().analyze(query)) < 2:
        return []
    found = backend().search(query, kind="thread", limit=12, mode="any", snippets=False)
    hits = [h for h in found.hits if h.db_id != exclude]
    if not hits:
        return []
    top = hits[0].text_score
    hits = [h for h in hits if h.text_score >= 0.35 * top]
    hits.sort(key=lambda h: (not h.solved, -h.score))
    hits = hits[:limit]
    accepted = {}
    ids = [h.db_id for h in hits if h.solved]
    if ids:
        rows = db.session.execute(
            select(Thread.id, Answer.body_html)
            .join(Answer, Answer.id == Thread.accepted_answer_id)
            .where(Thread.id.in_(ids))
        )
        accepted = {thread_id: opening_sentence(html, 160) for thread_id, html in rows}
    return [
        {
            "id": h.db_id,
            "title": h.title,
            "url": thread_path(h.db_id, h.title),
            "solved": h.solved,
            "answer": accepted.get(h.db_id, ""),
        }
        for h in hits
    ]


RELATED_TTL = timedelta(hours=6)


def related_threads(thread: Thread, limit: int = 5) -> list[dict[str, Any]]:
    """More like this: threads sharing the title's and tags' words, solved first.

    A search costs tens of milliseconds on a big index, so the answer is kept in the
    database for a few hours (or until the thread changes) and page views read it back.
    """
    import json

    from kb.models import RelatedCache, utcnow

    cached = db.session.get(RelatedCache, thread.id)
    fresh_after = max(thread.last_activity, utcnow() - RELATED_TTL)
    if cached is not None and cached.computed >= fresh_after:
        return list(json.loads(cached.items))[:limit]
    text = f"{thread.title} {' '.join(thread.tag_names)}"
    items = similar_threads(text, limit=limit, exclude=thread.id)
    try:
        # A write on a page view: end the read transaction first (see record_click).
        thread_id = thread.id
        db.session.rollback()
        row = db.session.get(RelatedCache, thread_id) or RelatedCache(thread_id=thread_id)
        row.items, row.computed = json.dumps(items), utcnow()
        db.session.add(row)
        db.session.commit()
    except OperationalError:  # busy database: serve the answer, store it another time
        db.session.rollback()
    return items
