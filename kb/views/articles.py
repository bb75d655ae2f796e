"""Article pages: the written knowledge base."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.db import db
from kb.models import Article, Tag, article_tags

bp = Blueprint("articles", __name__)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@bp.get("/articles")
def index() -> str:
    """Every article, grouped by its first tag; or those with one tag."""
    tag = request.args.get("tag", "")
    stmt = select(Article).options(selectinload(Article.tags)).order_by(Article.title)
    if tag:
        stmt = stmt.where(
            Article.id.in_(
                select(article_tags.c.article_id)
                .join(Tag, Tag.id == article_tags.c.tag_id)
                .where(Tag.name == tag)
            )
        )
    articles = db.session.scalars(stmt).all()
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.tag_names[0] if article.tag_names else "general", []).append(
            article
        )
    return render_template(
        "articles/index.html", groups=sorted(groups.items()), tag=tag, count=len(articles)
    )


@bp.get("/a/<slug>")
def show(slug: str) -> str:
    """One article."""
    if len(slug) > 120 or not SLUG_RE.match(slug):
        abort(404)
    article = db.session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        abort(404)
    return render_template("articles/show.html", article=article)
