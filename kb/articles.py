"""Articles: load content/ into the database (insert or update by slug, remove the gone)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from kb.db import db
from kb.errors import ValidationError
from kb.markup import render_markdown
from kb.models import Article, utcnow
from kb.search import queue_index
from kb.threads import get_or_create_tags
from kb.validation import TAG_RE

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass
class ArticleFile:
    """One parsed Markdown file from content/."""

    slug: str
    title: str
    summary: str
    tags: list[str]
    reviewed: datetime | None
    body: str


def parse_article(text: str, name: str) -> ArticleFile:
    """Front matter (title, slug, tags, summary, reviewed) and the Markdown body."""
    match = _FRONT.match(text)
    if not match:
        raise ValidationError(f"{name}: missing front matter between '---' lines")
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if line.strip() and ":" in line:
            key, _, value = line.partition(":")
            meta[key.strip().lower()] = value.strip()
    slug = meta.get("slug", "")
    title = meta.get("title", "")
    if not SLUG_RE.match(slug) or not title:
        raise ValidationError(f"{name}: front matter needs a title and a lowercase-dashed slug")
    tags = [t.strip().lower() for t in re.split(r"[,\s]+", meta.get("tags", "").strip("[]")) if t]
    if not tags or any(not TAG_RE.match(t) for t in tags):
        raise ValidationError(f"{name}: tags must be lowercase words with dashes")
    reviewed = None
    if meta.get("reviewed"):
        try:
            reviewed = datetime.fromisoformat(meta["reviewed"])
        except ValueError as err:
            raise ValidationError(f"{name}: reviewed must be a date like 2026-10-01") from err
    return ArticleFile(
        slug=slug,
        title=title,
        summary=meta.get("summary", ""),
        tags=tags[:5],
        reviewed=reviewed,
        body=text[match.end() :].strip(),
    )


def load_articles(content_dir: Path) -> dict[str, int]:
    """Sync content/ into the articles table; returns counts of added, updated, removed."""
    files = sorted(content_dir.glob("*.md")) if content_dir.is_dir() else []
    parsed = [parse_article(p.read_text(encoding="utf-8"), p.name) for p in files]
    existing = {a.slug: a for a in db.session.scalars(select(Article))}
    counts = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0}
    seen = set()
    for item in parsed:
        seen.add(item.slug)
        article = existing.get(item.slug)
        if article is None:
            article = Article(slug=item.slug)
            db.session.add(article)
            counts["added"] += 1
        elif (
            article.title == item.title
            and article.body_md == item.body
            and article.summary == item.summary
            and article.tag_names == sorted(item.tags)
            and article.reviewed == item.reviewed
        ):
            counts["unchanged"] += 1
            continue
        else:
            counts["updated"] += 1
        article.title, article.summary, article.body_md = item.title, item.summary, item.body
        article.body_html = render_markdown(item.body)
        article.reviewed = item.reviewed
        article.updated = utcnow()
        article.tags = get_or_create_tags(item.tags)
        db.session.flush()
        queue_index("article", article.id)
    for slug, article in existing.items():
        if slug not in seen and article.source == "content":
            queue_index("article", article.id)
            db.session.delete(article)
            counts["removed"] += 1
    db.session.commit()
    return counts
