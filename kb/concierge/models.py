"""Concierge tables: mentions, replies, short links, clicks, suppressions, the cursor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import db
from kb.models import User, utcnow

# Reply purposes: the first reply to a mention, and the follow-up once a thread is solved.
PURPOSES = ("reply", "follow_up")
# Reply states, in order of life: draft -> approved -> sending -> sent (or rejected/failed).
STATES = ("draft", "approved", "sending", "sent", "rejected", "failed")


class Mention(db.Model):
    """A post that mentions the brand's account, with the concierge's decision."""

    __tablename__ = "mentions"
    id: Mapped[int] = mapped_column(primary_key=True)
    tweet_id: Mapped[str] = mapped_column(String(32), unique=True)
    author_id: Mapped[str] = mapped_column(String(32), index=True)
    author_username: Mapped[str] = mapped_column(String(50), default="")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    conversation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    in_reply_to_id: Mapped[str | None] = mapped_column(String(32))
    is_repost: Mapped[bool] = mapped_column(default=False)
    lang: Mapped[str | None] = mapped_column(String(10))
    # "new" until triaged; then the decision kind (help, private, opt_out, ...).
    decision: Mapped[str] = mapped_column(String(20), default="new", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    cleaned: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    matched_kind: Mapped[str | None] = mapped_column(String(10))
    matched_id: Mapped[int | None] = mapped_column(Integer)
    matched_title: Mapped[str | None] = mapped_column(String(300))
    # True when no good match was found: listed under "Unanswered mentions".
    unanswered: Mapped[bool] = mapped_column(default=False, index=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    replies: Mapped[list[Reply]] = relationship(back_populates="mention", order_by="Reply.id")


class Reply(db.Model):
    """A drafted, approved or sent reply to a mention (at most one per purpose)."""

    __tablename__ = "replies"
    __table_args__ = (
        UniqueConstraint("mention_id", "purpose"),
        Index("ix_replies_state", "state", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"))
    purpose: Mapped[str] = mapped_column(String(10), default="reply")
    kind: Mapped[str] = mapped_column(String(20))  # answer | ask_community | private | follow_up
    text: Mapped[str] = mapped_column(Text)
    short_code: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(10), default="draft")
    auto: Mapped[bool] = mapped_column(default=False)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    sending_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    tweet_id: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str] = mapped_column(Text, default="")

    mention: Mapped[Mention] = relationship(back_populates="replies")
    approved_by: Mapped[User | None] = relationship()


class ShortLink(db.Model):
    """A short code made for one concierge reply, pointing at a path inside the site."""

    __tablename__ = "short_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    target_path: Mapped[str] = mapped_column(String(600))
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Click(db.Model):
    """One counted click on a short link (link-preview fetchers are not counted)."""

    __tablename__ = "clicks"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    mention_id: Mapped[int | None] = mapped_column(Integer, index=True)
    referrer_host: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Suppression(db.Model):
    """An X account that opted out of automated replies."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[str] = mapped_column(String(32), unique=True)
    author_username: Mapped[str] = mapped_column(String(50), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ConciergeState(db.Model):
    """Small persistent values: the newest mention id seen, the rate-limit pause."""

    __tablename__ = "concierge_state"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class LinkSuggestion(db.Model):
    """A community member's suggested thread or answer for an unanswered mention."""

    __tablename__ = "link_suggestions"
    __table_args__ = (UniqueConstraint("mention_id", "user_id", "target_kind", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(10))  # thread | answer
    target_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | approved | declined
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()
    mention: Mapped[Mention] = relationship()
