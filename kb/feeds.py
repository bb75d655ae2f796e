"""Feeds and search-engine data: Atom entries, sitemap URLs, schema.org JSON-LD.

Only content a logged-out reader can see goes out: no hidden threads or answers, no threads
closed as duplicates (they point at their original), no unpublished articles.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for
from markupsafe import Markup
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from kb.db import db
from kb.markup import plain_text
from kb.models import Answer, Article, Tag, Thread, User, thread_tags
from kb.urls import article_path, external, thread_path

FEED_SIZE = 50
# The sitemap protocol's limit per file; tests monkeypatch it small to exercise the split.
SITEMAP_PAGE_SIZE = 50_000
# The date in tag: URIs (RFC 4151) is when the name was minted, never "now": ids stay stable.
TAG_URI_DATE = "2026"
EPOCH = datetime(1970, 1, 1)
# Characters XML 1.0 forbids even when escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Entry:
    """One Atom entry: a thread (its question) or an answer."""

    id: str
    title: str
    url: str
    published: datetime
    updated: datetime
    author: str
    author_url: str
    html: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feed:
    """An Atom feed: its id, title, page and self links, and its newest entries first."""

    id: str
    title: str
    url: str
    self_url: str
    updated: datetime
    entries: list[Entry]


def tag_uri(specific: str) -> str:
    """A stable tag: URI on the site's host, e.g. tag:kb.example,2026:thread/12."""
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
    return f"tag:{host},{TAG_URI_DATE}:{specific}"


def rfc3339(value: datetime) -> str:
    """A stored (naive UTC) time as RFC 3339 text."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def xml_safe(text: str) -> str:
    """Text without the control characters XML cannot carry."""
    return _XML_INVALID.sub("", text)


def visible_thread() -> ColumnElement[bool]:
    """The condition for a thread anyone may see and that is not a duplicate."""
    return Thread.hidden.is_(False) & Thread.duplicate_of_id.is_(None)


def thread_updated(last_activity: datetime, edited: datetime | None) -> datetime:
    """When a thread last changed: new activity or an edit of the question."""
    return max(last_activity, edited) if edited else last_activity


def _user_url(user: User) -> str:
    return external(url_for("users.show", name=user.name))


def _thread_entry(thread: Thread) -> Entry:
    return Entry(
        id=tag_uri(f"thread/{thread.id}"),
        title=xml_safe(thread.title),
        url=external(thread_path(thread.id, thread.title)),
        published=thread.created,
        updated=thread_updated(thread.last_activity, thread.edited),
        author=thread.author.name,
        author_url=_user_url(thread.author),
        html=xml_safe(thread.body_html),
        categories=tuple(thread.tag_names),
    )


def tag_exists(name: str) -> bool:
    """Whether a tag of that name exists."""
    return db.session.scalar(select(Tag.id).where(Tag.name == name)) is not None


def thread_entries(kind: str, tag: str | None = None) -> list[Entry]:
    """The newest visible threads of a tab (recent, unanswered, solved), optionally one tag's."""
    stmt = select(Thread).where(visible_thread()).options(selectinload(Thread.tags))
    if kind == "unanswered":
        stmt = stmt.where(Thread.answer_count == 0)
    elif kind == "solved":
        stmt = stmt.where(Thread.accepted_answer_id.is_not(None))
    if tag is not None:
        tagged = select(thread_tags.c.thread_id).join(Tag, Tag.id == thread_tags.c.tag_id)
        stmt = stmt.where(Thread.id.in_(tagged.where(Tag.name == tag)))
    # Chosen by activity, as on the site's tabs (an indexed order); then ordered by the
    # entry's own updated time, which an edit of the question can move later.
    rows = db.session.scalars(
        stmt.order_by(Thread.last_activity.desc(), Thread.id.desc()).limit(FEED_SIZE)
    )
    entries = [_thread_entry(thread) for thread in rows]
    entries.sort(key=lambda e: (e.updated, e.id), reverse=True)
    return entries


def answer_entries(thread: Thread) -> list[Entry]:
    """A thread's newest visible answers, most recently written or edited first."""
    updated = func.coalesce(Answer.edited, Answer.created)
    rows = db.session.scalars(
        select(Answer)
        .where(Answer.thread_id == thread.id, Answer.hidden.is_(False))
        .order_by(updated.desc(), Answer.id.desc())
        .limit(FEED_SIZE)
    )
    return [
        Entry(
            id=tag_uri(f"answer/{answer.id}"),
            title=xml_safe(f"Answer by {answer.author.name}"),
            url=external(thread_path(thread.id, thread.title, answer.id)),
            published=answer.created,
            updated=answer.edited or answer.created,
            author=answer.author.name,
            author_url=_user_url(answer.author),
            html=xml_safe(answer.body_html),
        )
        for answer in rows
    ]


def newest(entries: Sequence[Entry], default: datetime = EPOCH) -> datetime:
    """A feed's updated time: its newest entry's (a fixed time when empty, never 'now')."""
    return max((e.updated for e in entries), default=default)


# ------------------------------------------------------------------ sitemap


def sitemap_counts() -> tuple[int, int]:
    """How many visible threads and published articles the sitemap lists."""
    threads = db.session.scalar(select(func.count(Thread.id)).where(visible_thread())) or 0
    articles = (
        db.session.scalar(select(func.count(Article.id)).where(Article.published.is_(True))) or 0
    )
    return threads, articles


def sitemap_pages(counts: tuple[int, int]) -> int:
    """How many sitemap files the URLs fill (at least one, even when empty)."""
    return max(1, math.ceil(sum(counts) / SITEMAP_PAGE_SIZE))


def sitemap_urls(page: int, counts: tuple[int, int]) -> Iterator[tuple[str, datetime]]:
    """(absolute URL, lastmod) for sitemap file `page` (from 1): threads by id, then articles."""
    size = SITEMAP_PAGE_SIZE
    start = (page - 1) * size
    thread_count = counts[0]
    if start < thread_count:
        stmt = (
            select(Thread.id, Thread.title, Thread.last_activity, Thread.edited)
            .where(visible_thread())
            .order_by(Thread.id)
            .offset(start)
            .limit(size)
        )
        for thread_id, title, last_activity, edited in db.session.execute(
            stmt.execution_options(yield_per=2000)
        ):
            yield external(thread_path(thread_id, title)), thread_updated(last_activity, edited)
    article_start = max(0, start - thread_count)
    article_limit = size - max(0, min(size, thread_count - start))
    if article_limit > 0:
        stmt_a = (
            select(Article.slug, Article.updated)
            .where(Article.published.is_(True))
            .order_by(Article.id)
            .offset(article_start)
            .limit(article_limit)
        )
        for slug, updated in db.session.execute(stmt_a.execution_options(yield_per=2000)):
            yield external(article_path(slug)), updated


# ------------------------------------------------------------------ JSON-LD


def _person(user: User) -> dict[str, str]:
    return {"@type": "Person", "name": user.name, "url": _user_url(user)}


def _answer_data(thread_url: str, answer: Answer) -> dict[str, Any]:
    return {
        "@type": "Answer",
        "text": plain_text(answer.body_html),
        "upvoteCount": answer.score,
        "dateCreated": rfc3339(answer.created),
        "url": f"{thread_url}#answer-{answer.id}",
        "author": _person(answer.author),
    }


def qa_page_data(thread: Thread, answers: Sequence[Answer]) -> dict[str, Any]:
    """schema.org QAPage for a thread and the answers shown on its page (hidden ones left out)."""
    shown = [a for a in answers if not a.hidden]
    accepted = next((a for a in shown if a.id == thread.accepted_answer_id), None)
    question: dict[str, Any] = {
        "@type": "Question",
        "name": thread.title,
        "text": plain_text(thread.body_html),
        "answerCount": len(shown),
        "upvoteCount": thread.score,
        "dateCreated": rfc3339(thread.created),
        "author": _person(thread.author),
    }
    url = external(thread_path(thread.id, thread.title))  # once, not once per answer
    if accepted is not None:
        question["acceptedAnswer"] = _answer_data(url, accepted)
    suggested = [_answer_data(url, a) for a in shown if a is not accepted]
    if suggested:
        question["suggestedAnswer"] = suggested
    return {"@context": "https://schema.org", "@type": "QAPage", "mainEntity": question}


def article_data(article: Article) -> dict[str, Any]:
    """schema.org Article for a help article (no datePublished: the table does not keep it)."""
    config = current_app.config
    return {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": article.title,
        "description": article.summary,
        "dateModified": rfc3339(article.updated),
        "url": external(article_path(article.slug)),
        "mainEntityOfPage": external(article_path(article.slug)),
        "publisher": {"@type": "Organization", "name": config["BRAND_NAME"], "url": external("/")},
    }


def json_ld(data: dict[str, Any]) -> Markup:
    """JSON for a <script type="application/ld+json"> block that no post can break out of."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # "<", ">" and "&" only occur inside JSON strings, where \u escapes mean the same thing;
    # without them "</script>" (or "<!--") in a post would end or derail the script element.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)
