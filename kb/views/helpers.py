"""Template filters and globals shared by every page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, request, url_for

from kb.models import Article, Thread, utcnow


def thread_url(thread: Thread, answer_id: int | None = None, **kwargs: Any) -> str:
    """The canonical URL of a thread, optionally at one answer's anchor."""
    url = url_for("threads.show", thread_id=thread.id, slug=thread.slug, **kwargs)
    return f"{url}#answer-{answer_id}" if answer_id else url


def article_url(article: Article, **kwargs: Any) -> str:
    """The canonical URL of an article."""
    return url_for("articles.show", slug=article.slug, **kwargs)


def timeago(value: datetime | None) -> str:
    """'3 days ago' style text for a UTC time."""
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in (
        (31536000, "year"),
        (2592000, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def url_with(**changes: Any) -> str:
    """The current URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint or "threads.index", **(request.view_args or {}), **args)


def opening_sentence(html: str, limit: int = 200) -> str:
    """The first sentence of rendered HTML as plain text, for link previews."""
    from kb.markup import plain_text

    text = plain_text(html[:4000])
    match = re.match(r"(.+?[.!?])(?:\s|$)", text)
    sentence = match.group(1) if match else text
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rsplit(" ", 1)[0] + "…"
    return sentence


def register_template_helpers(app: Flask) -> None:
    """Make the helpers available in templates."""
    app.jinja_env.globals.update(thread_url=thread_url, article_url=article_url, url_with=url_with)
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.filters["opening_sentence"] = opening_sentence
    app.jinja_env.filters["isodate"] = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ") if d else ""
    app.jinja_env.filters["datefmt"] = lambda d: d.strftime("%-d %b %Y") if d else ""
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
