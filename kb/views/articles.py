"""Article pages: the written knowledge base."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request, session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import feedback
from kb.db import db
from kb.models import Article, Tag, Thread, article_tags

bp = Blueprint("articles", __name__)
# Article sections, in the order customers look for them: (heading, tags that belong there).
TOPICS = [
    ("Getting started", {"setup", "getting-started", "upgrade"}),
    ("Outages and faults", {"outages", "status", "line-fault", "engineer", "no-internet"}),
    ("Wi-Fi", {"wifi", "2-4-ghz", "dropping", "smart-home"}),
    ("Speed and connection", {"speed", "slow-internet", "speed-test", "speed-guarantee"}),
    ("Router and lights", {"router", "hub-3", "lights"}),
    ("Bills and payments", {"billing", "payments", "bills"}),
    ("Your account", {"account", "contract", "login", "password", "two-factor"}),
    ("TV and Stream 4K", {"stream-4k", "tv", "streaming", "hdmi", "apps"}),
    ("Email", {"email", "skylark-mail", "smtp"}),
    ("Advanced settings", {"advanced", "gaming", "vpn", "static-ip", "upnp"}),
    ("Safety and security", {"security", "safety", "safeguard", "spam"}),
]
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@bp.get("/articles")
def index() -> str:
    """Every article, grouped by its first tag; or those with one tag."""
    tag = request.args.get("tag", "")
    stmt = (
        select(Article)
        .where(Article.published.is_(True))
        .options(selectinload(Article.tags))
        .order_by(Article.title)
    )
    if tag:
        stmt = stmt.where(
            Article.id.in_(
                select(article_tags.c.article_id)
                .join(Tag, Tag.id == article_tags.c.tag_id)
                .where(Tag.name == tag)
            )
        )
    articles = db.session.scalars(stmt).all()
    groups: dict[str, list[Article]] = {label: [] for label, _tags in TOPICS}
    for article in articles:
        names = set(article.tag_names)
        label = next((label for label, tags in TOPICS if names & tags), "More help")
        groups.setdefault(label, []).append(article)
    shown = [(label, items) for label, items in groups.items() if items]
    return render_template("articles/index.html", groups=shown, tag=tag, count=len(articles))


@bp.get("/a/<slug>")
def show(slug: str) -> str:
    """One article."""
    if len(slug) > 120 or not SLUG_RE.match(slug):
        abort(404)
    article = db.session.scalar(select(Article).where(Article.slug == slug))
    staff = current_user.is_authenticated and current_user.is_staff
    if article is None or (not article.published and not staff):
        abort(404)
    thread = db.session.get(Thread, article.from_thread_id) if article.from_thread_id else None
    return render_template(
        "articles/show.html", article=article, thread=thread,
        counts=feedback.counts("article", article.id) if staff else None,
        needs_review=feedback.is_flagged_for_review("article", article.id) if staff else False,
        feedback_given=f"article:{article.id}" in session.get("feedback", []),
    )  # fmt: skip
