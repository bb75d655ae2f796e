"""Feeds and search-engine files: Atom feeds, robots.txt, sitemaps, JSON-LD for pages."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_template,
    url_for,
)
from markupsafe import Markup

from kb import feeds
from kb.db import db
from kb.models import Answer, Article, Thread
from kb.urls import external, thread_path
from kb.validation import TAG_RE

bp = Blueprint("feeds", __name__)

ATOM = "application/atom+xml"
SITEMAP = "application/xml"
FEED_MAX_AGE = 300
SITEMAP_MAX_AGE = 3600
# Pages that are per-person, forms, or staff tools: nothing there for a search engine.
ROBOTS_DISALLOW = (
    "/ask", "/login", "/register", "/settings", "/concierge", "/staff", "/moderation",
    "/notifications", "/api",
)  # fmt: skip
TAB_TITLES = {
    "recent": "Recent questions",
    "unanswered": "Questions waiting for an answer",
    "solved": "Solved questions",
}


def _atom(feed: feeds.Feed) -> Response:
    """An Atom response that feed readers can poll cheaply (ETag, short cache)."""
    response = Response(render_template("feeds/atom.xml", feed=feed), mimetype=ATOM)
    response.cache_control.public = True
    response.cache_control.max_age = FEED_MAX_AGE
    response.add_etag()
    return response.make_conditional(request)


def _list_feed(kind: str, tag: str | None, page_url: str) -> Response:
    entries = feeds.thread_entries(kind, tag)
    title = f"Questions tagged {tag}" if tag else TAB_TITLES[kind]
    feed = feeds.Feed(
        id=feeds.tag_uri(f"feed/tags/{tag}" if tag else f"feed/{kind}"),
        title=f"{title} · {current_app.config['SITE_NAME']}",
        url=external(page_url),
        self_url=external(request.path),
        updated=feeds.newest(entries),
        entries=entries,
    )
    return _atom(feed)


@bp.get("/feeds/<any(recent, unanswered, solved):kind>.atom")
def threads(kind: str) -> Response:
    """Recent, unanswered or solved threads as an Atom feed."""
    tab = None if kind == "recent" else kind
    return _list_feed(kind, None, url_for("threads.index", tab=tab))


@bp.get("/feeds/tags/<tag>.atom")
def tag(tag: str) -> Response:
    """The recent threads with one tag as an Atom feed."""
    if len(tag) > 30 or not TAG_RE.match(tag) or not feeds.tag_exists(tag):
        abort(404)
    return _list_feed("recent", tag, url_for("threads.tag", tag=tag))


@bp.get("/t/<id:thread_id>/feed.atom")
def thread(thread_id: int) -> Any:
    """A thread's answers as an Atom feed (a duplicate's feed moves to its original)."""
    item = db.session.get(Thread, thread_id)
    if item is None or item.hidden:
        abort(404)
    if item.duplicate_of_id is not None:
        return redirect(url_for("feeds.thread", thread_id=item.duplicate_of_id), 301)
    entries = feeds.answer_entries(item)
    page = thread_path(item.id, item.title)
    feed = feeds.Feed(
        id=feeds.tag_uri(f"thread/{item.id}/answers"),
        title=feeds.xml_safe(f"Answers to: {item.title}"),
        url=external(page),
        self_url=external(url_for("feeds.thread", thread_id=item.id)),
        updated=feeds.newest(entries, feeds.thread_updated(item.last_activity, item.edited)),
        entries=entries,
    )
    return _atom(feed)


@bp.get("/robots.txt")
def robots() -> Response:
    """Crawl everything public; skip forms, personal and staff pages; name the sitemap."""
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {path}" for path in ROBOTS_DISALLOW]
    lines += ["", f"Sitemap: {external(url_for('feeds.sitemap'))}", ""]
    return Response("\n".join(lines), mimetype="text/plain")


def _urlset(page: int, counts: tuple[int, int]) -> Response:
    # Streamed: a full file is 50,000 URLs, and no list of them is ever held in memory.
    urls = feeds.sitemap_urls(page, counts)
    response = Response(stream_template("feeds/sitemap.xml", urls=urls), mimetype=SITEMAP)
    response.cache_control.public = True
    response.cache_control.max_age = SITEMAP_MAX_AGE
    return response


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every thread and article URL; a sitemap index of several files past the size limit."""
    counts = feeds.sitemap_counts()
    pages = feeds.sitemap_pages(counts)
    if pages == 1:
        return _urlset(1, counts)
    locations = [external(url_for("feeds.sitemap_page", page=n)) for n in range(1, pages + 1)]
    body = render_template("feeds/sitemap_index.xml", locations=locations)
    return Response(body, mimetype=SITEMAP)


@bp.get("/sitemaps/<id:page>.xml")
def sitemap_page(page: int) -> Response:
    """One file of a split sitemap."""
    counts = feeds.sitemap_counts()
    if not 1 <= page <= feeds.sitemap_pages(counts):
        abort(404)
    return _urlset(page, counts)


@bp.app_template_global()
def qa_page_jsonld(thread: Thread, answers: list[Answer]) -> Markup:
    """The thread page's QAPage JSON-LD (use inside a nonce'd ld+json script)."""
    return feeds.json_ld(feeds.qa_page_data(thread, answers))


@bp.app_template_global()
def article_jsonld(article: Article) -> Markup:
    """The article page's Article JSON-LD (use inside a nonce'd ld+json script)."""
    return feeds.json_ld(feeds.article_data(article))
