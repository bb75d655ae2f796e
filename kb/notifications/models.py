"""Notification tables: follows, notifications, private feed tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import db
from kb.models import Thread, User, utcnow

FOLLOW_KINDS = ("thread", "tag")
# What happened, as seen by the person notified.
NOTIFICATION_KINDS = ("answer", "comment", "accepted", "solved", "mention", "new_thread")


class Follow(db.Model):
    """A user following a thread or a tag; exactly one target is set."""

    __tablename__ = "follows"
    __table_args__ = (
        # NULLs are distinct in unique constraints, so each pair only dedupes its own kind.
        UniqueConstraint("user_id", "thread_id", name="uq_follows_user_thread"),
        UniqueConstraint("user_id", "tag_id", name="uq_follows_user_tag"),
        CheckConstraint(
            "(kind = 'thread' AND thread_id IS NOT NULL AND tag_id IS NULL)"
            " OR (kind = 'tag' AND tag_id IS NOT NULL AND thread_id IS NULL)",
            name="one_target",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # "thread" | "tag"
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), index=True
    )
    tag_id: Mapped[int | None] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), index=True
    )
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Notification(db.Model):
    """Something a user should hear about; unread until `read_at` is set."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_unread", "user_id", "read_at"),
        Index("ix_notifications_recent", "user_id", "created"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)

    thread: Mapped[Thread] = relationship()
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    @property
    def unread(self) -> bool:
        """Not yet seen on the notifications page."""
        return self.read_at is None


class FeedToken(db.Model):
    """The secret in a user's private Atom feed URL; only its SHA-256 is stored."""

    __tablename__ = "feed_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class DigestLog(db.Model):
    """When each user's last digest email went out: a second run the same day sends nothing."""

    __tablename__ = "digest_log"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(DateTime)
