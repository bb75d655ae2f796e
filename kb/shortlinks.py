"""Short links: /s/<code> for every thread, answer and article, and one per concierge reply.

Content codes are derived (a kind letter plus the id in base62), so they need no rows;
reply codes are random and stored, so each click is attributed to its reply and mention.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select

from kb.db import db
from kb.models import Answer, Article, Thread
from kb.urls import article_path, thread_path

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KIND_PREFIX = {"thread": "t", "answer": "a", "article": "k"}
REPLY_PREFIX = "c"
# Ids are Integer columns: int4 on PostgreSQL, where a bigger number is an error, not a miss.
MAX_DB_ID = 2**31 - 1
PREVIEW_AGENTS = (
    "twitterbot", "facebookexternalhit", "facebot", "slackbot", "linkedinbot", "discordbot",
    "whatsapp", "telegrambot", "skypeuripreview", "embedly", "pinterest", "redditbot",
    "applebot", "googlebot", "bingbot", "iframely", "mastodon", "bot/", "crawler", "spider",
)  # fmt: skip


def to_base62(number: int) -> str:
    """A non-negative integer in base62."""
    if number < 0:
        raise ValueError("negative")
    out = ""
    while True:
        number, rem = divmod(number, 62)
        out = ALPHABET[rem] + out
        if number == 0:
            return out


def from_base62(text: str) -> int | None:
    """The integer for a base62 string, or None if it is not one (or absurdly long)."""
    if not text or len(text) > 10:
        return None
    number = 0
    for char in text:
        index = ALPHABET.find(char)
        if index < 0:
            return None
        number = number * 62 + index
    return number


def content_code(kind: str, db_id: int) -> str:
    """The short code of a thread, answer or article."""
    return KIND_PREFIX[kind] + to_base62(db_id)


def is_internal_path(path: str) -> bool:
    """Only paths on this site: no scheme, no host, no protocol-relative tricks."""
    parts = urlsplit(path)
    return (
        path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and not parts.scheme
        and not parts.netloc
        and not any(ord(c) < 32 for c in path)
    )


def create_reply_link(target_path: str, mention_id: int | None) -> str:
    """A new random code for one concierge reply (added to the caller's transaction)."""
    from kb.concierge.models import ShortLink

    if not is_internal_path(target_path):
        raise ValueError("short links only point inside the site")
    while True:
        code = REPLY_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(7))
        if db.session.scalar(select(ShortLink.id).where(ShortLink.code == code)) is None:
            break
    db.session.add(ShortLink(code=code, target_path=target_path, mention_id=mention_id))
    return code


def resolve(code: str) -> tuple[str, int | None] | None:
    """The internal path for a code and the mention it belongs to, or None."""
    if not code or len(code) > 16:
        return None
    prefix, rest = code[0], code[1:]
    if prefix == REPLY_PREFIX:
        from kb.concierge.models import ShortLink

        link = db.session.scalar(select(ShortLink).where(ShortLink.code == code))
        if link is None or not is_internal_path(link.target_path):
            return None
        return link.target_path, link.mention_id
    db_id = from_base62(rest)
    if db_id is None or db_id > MAX_DB_ID:
        return None
    if prefix == "t":
        thread = db.session.get(Thread, db_id)
        if thread is None or thread.hidden:
            return None
        return thread_path(thread.id, thread.title), None
    if prefix == "a":
        answer = db.session.get(Answer, db_id)
        if answer is None or answer.hidden or answer.thread.hidden:
            return None
        return thread_path(answer.thread_id, answer.thread.title, answer.id), None
    if prefix == "k":
        article = db.session.get(Article, db_id)
        return (article_path(article.slug), None) if article else None
    return None


def is_preview_fetcher(user_agent: str) -> bool:
    """Link-preview fetchers and crawlers, whose requests are not clicks."""
    agent = (user_agent or "").lower()
    return any(marker in agent for marker in PREVIEW_AGENTS)


def record_click(code: str, mention_id: int | None, referrer: str) -> None:
    """Count a click on a short link, attributed to its mention if it has one."""
    from kb.concierge.models import Click

    host = ""
    if referrer:
        try:
            host = (urlsplit(referrer).hostname or "")[:255]
        except ValueError:
            host = ""
    # End the read transaction first: this GET then writes in a transaction of its own,
    # which waits for the lock instead of failing to upgrade a stale read snapshot.
    db.session.rollback()
    db.session.add(Click(code=code, mention_id=mention_id, referrer_host=host))
    db.session.commit()
