"""Private Atom feeds: secret tokens (only their SHA-256 is stored) and the feed document."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from sqlalchemy import select, update

from kb.db import db
from kb.models import User, utcnow
from kb.notifications.models import FeedToken, Notification
from kb.notifications.operations import notification_path, notification_text

ATOM_NS = "http://www.w3.org/2005/Atom"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def hash_token(token: str) -> str:
    """The stored form of a feed token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue_feed_token(user: User) -> str:
    """A new feed secret for the user, revoking any older one; shown once, never stored."""
    now = utcnow()
    db.session.execute(
        update(FeedToken)
        .where(FeedToken.user_id == user.id, FeedToken.revoked.is_(None))
        .values(revoked=now)
    )
    secret = secrets.token_urlsafe(32)
    db.session.add(FeedToken(user_id=user.id, token_hash=hash_token(secret), created=now))
    db.session.commit()
    return secret


def revoke_feed_tokens(user: User) -> None:
    """Turn the user's private feed off: every existing URL stops working."""
    db.session.execute(
        update(FeedToken)
        .where(FeedToken.user_id == user.id, FeedToken.revoked.is_(None))
        .values(revoked=utcnow())
    )
    db.session.commit()


def active_feed_token(user: User) -> FeedToken | None:
    """The user's live feed token row, if the feed is on."""
    return db.session.scalar(
        select(FeedToken)
        .where(FeedToken.user_id == user.id, FeedToken.revoked.is_(None))
        .order_by(FeedToken.id.desc())
        .limit(1)
    )


def feed_owner(secret: str) -> User | None:
    """The user whose live feed token this is, or None."""
    if not 20 <= len(secret) <= 100 or not set(secret) <= _TOKEN_CHARS:
        return None
    token = db.session.scalar(select(FeedToken).where(FeedToken.token_hash == hash_token(secret)))
    if token is None or token.revoked is not None:
        return None
    return token.user


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _urn(name: str) -> str:
    # Stable ids that survive a new token: derived from the public URL of the thing.
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def atom_feed(
    user: User, notes: Sequence[Notification], *, base_url: str, site_name: str, self_url: str
) -> bytes:
    """An Atom 1.0 document of a user's notifications, newest first."""
    base = base_url.rstrip("/")
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", _urn(f"{base}/notifications/feed/user/{user.id}"))
    sub(feed, "title", f"{site_name}: notifications for {user.name}")
    sub(feed, "updated", _stamp(notes[0].created if notes else user.created))
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=f"{base}/notifications")
    author = sub(feed, "author")
    sub(author, "name", site_name)
    for note in notes:
        entry = sub(feed, "entry")
        sub(entry, "id", _urn(f"{base}/notifications/{note.id}"))
        text = notification_text(note)
        sub(entry, "title", text)
        sub(entry, "updated", _stamp(note.created))
        sub(entry, "link", rel="alternate", type="text/html", href=base + notification_path(note))
        sub(entry, "summary", text)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
