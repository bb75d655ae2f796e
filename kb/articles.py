"""Articles: load content/ into the database (insert or update by slug, remove the gone)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from kb.db import atomic, db
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


@atomic
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


def _unique_slug(title: str) -> str:
    from kb.models import slugify

    base = slugify(title, 100)
    slug, n = base, 2
    while db.session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


@atomic
def promote_thread(thread: object, staff: object) -> Article:
    """A draft article pre-filled from a solved thread's question and accepted answer."""
    from kb.errors import PermissionDenied
    from kb.models import Answer, Thread, User
    from kb.views.helpers import opening_sentence

    assert isinstance(thread, Thread) and isinstance(staff, User)
    if not staff.is_staff:
        raise PermissionDenied("Only staff can turn threads into articles.")
    if not thread.solved:
        raise ValidationError("Only solved threads can become articles.", "thread")
    existing = db.session.scalar(select(Article).where(Article.from_thread_id == thread.id))
    if existing is not None:
        return existing
    answer = db.session.get(Answer, thread.accepted_answer_id)
    assert answer is not None
    contributors = (
        [thread.author.name]
        + [answer.author.name]
        + [
            a.author.name
            for a in thread.answers
            if a.id != answer.id and a.score > 0 and not a.hidden
        ]
    )
    names = list(dict.fromkeys(contributors))
    body = f"## The problem\n\n{thread.body_md}\n\n## What worked\n\n{answer.body_md}\n"
    article = Article(
        slug=_unique_slug(thread.title), title=thread.title,
        summary=opening_sentence(answer.body_html, 190), body_md=body,
        body_html=render_markdown(body), source="promoted", published=False,
        from_thread_id=thread.id, credits=" ".join(names),
    )  # fmt: skip
    article.tags = get_or_create_tags(thread.tag_names[:5])
    db.session.add(article)
    db.session.commit()
    return article


@atomic
def update_article(
    article: Article,
    staff: object,
    *,
    title: object,
    summary: object,
    body: object,
    tags: object,
    publish: bool,
) -> Article:
    """Edit an article in Markdown, and publish it (which also marks it reviewed)."""
    from kb.errors import PermissionDenied
    from kb.models import User
    from kb.threads import render_body, touch_thread
    from kb.validation import check_body, check_title, clean_text, parse_tags

    assert isinstance(staff, User)
    if not staff.is_staff:
        raise PermissionDenied("Only staff can edit articles.")
    title_s, body_s, tag_names = check_title(title), check_body(body), parse_tags(tags)
    summary_s = " ".join(clean_text(summary).split())
    if not 10 <= len(summary_s) <= 300:
        raise ValidationError("Write a summary of 10 to 300 characters.", "summary")
    article.body_html = render_body(body_s)
    article.title, article.summary, article.body_md = title_s, summary_s, body_s
    article.tags = get_or_create_tags(tag_names)
    article.updated = utcnow()
    if publish:
        article.published = True
        article.reviewed = utcnow()
    if article.from_thread_id is not None:
        touch_thread(article.from_thread_id)  # the thread page links to its published article
    queue_index("article", article.id)
    db.session.commit()
    return article


@atomic
def mark_reviewed(article: Article, staff: object) -> None:
    """Record that staff checked the article is still right."""
    from kb.errors import PermissionDenied
    from kb.models import User

    assert isinstance(staff, User)
    if not staff.is_staff:
        raise PermissionDenied("Only staff can review articles.")
    article.reviewed = utcnow()
    db.session.commit()


def export_articles(directory: Path) -> int:
    """Write every published article as content/-style Markdown with front matter."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for article in db.session.scalars(
        select(Article).where(Article.published.is_(True)).order_by(Article.slug)
    ):
        summary = " ".join(article.summary.split())
        lines = [
            "---",
            f"title: {' '.join(article.title.split())}",
            f"slug: {article.slug}",
            f"tags: {', '.join(article.tag_names)}",
            f"summary: {summary}",
        ]
        if article.reviewed:
            lines.append(f"reviewed: {article.reviewed.date().isoformat()}")
        lines += ["---", "", article.body_md.strip(), ""]
        (directory / f"{article.slug}.md").write_text("\n".join(lines), encoding="utf-8")
        count += 1
    return count
