"""The tables: users, threads, answers, comments, votes, revisions, flags, articles, index queue."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.db import db

ROLES = ("member", "moderator", "staff")


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (stored naive as UTC in every database)."""
    return datetime.now(UTC).replace(tzinfo=None)


def slugify(text: str, max_length: int = 80) -> str:
    """Lowercase ASCII words joined by dashes, for readable URLs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "thread"


thread_tags = Table(
    "thread_tags",
    db.metadata,
    Column("thread_id", ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)

article_tags = Table(
    "article_tags",
    db.metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class User(UserMixin, db.Model):
    """A person with an account: member, moderator or staff."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    reputation: Mapped[int] = mapped_column(Integer, default=0)
    about: Mapped[str] = mapped_column(Text, default="")
    # Rotated on logout and password change: every cookie carrying the old one is dead.
    session_token: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def get_id(self) -> str:
        """The session identity: id plus the current session token."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_moderator(self) -> bool:
        """Moderators and staff may moderate."""
        return self.role in ("moderator", "staff")

    @property
    def is_staff(self) -> bool:
        """Staff run the concierge and the site."""
        return self.role == "staff"


class Tag(db.Model):
    """A topic label shared by threads and articles."""

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Thread(db.Model):
    """A question and everything below it."""

    __tablename__ = "threads"
    __table_args__ = (
        Index("ix_threads_activity", "hidden", "last_activity"),
        Index("ix_threads_solved", "hidden", "accepted_answer_id", "last_activity"),
        Index("ix_threads_unanswered", "hidden", "answer_count", "last_activity"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    edited: Mapped[datetime | None] = mapped_column(DateTime)
    last_activity: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    score: Mapped[int] = mapped_column(Integer, default=0)
    answer_count: Mapped[int] = mapped_column(Integer, default=0)
    accepted_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answers.id", use_alter=True, ondelete="SET NULL")
    )
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the thread is closed as a duplicate: it points readers (and search) there.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    # Bumped by every write that changes what the thread page shows: the page cache's key.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=thread_tags, order_by=Tag.name)
    answers: Mapped[list[Answer]] = relationship(
        back_populates="thread", foreign_keys="Answer.thread_id", cascade="all, delete-orphan"
    )

    @property
    def slug(self) -> str:
        """The readable part of the URL; the id alone identifies the thread."""
        return slugify(self.title)

    @property
    def solved(self) -> bool:
        """A thread is solved when an answer is accepted."""
        return self.accepted_answer_id is not None

    @property
    def tag_names(self) -> list[str]:
        """The tag names, sorted."""
        return [t.name for t in self.tags]


class Answer(db.Model):
    """One answer to a thread's question."""

    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    edited: Mapped[datetime | None] = mapped_column(DateTime)
    score: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)

    thread: Mapped[Thread] = relationship(back_populates="answers", foreign_keys=[thread_id])
    author: Mapped[User] = relationship(lazy="joined")

    @property
    def accepted(self) -> bool:
        """Whether this is the thread's accepted answer."""
        return self.thread.accepted_answer_id == self.id


class Comment(db.Model):
    """A short plain-text remark on a question or an answer."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)

    author: Mapped[User] = relationship(lazy="joined")


class Vote(db.Model):
    """One user's up (+1) or down (-1) vote on a question or an answer."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("user_id", "target_kind", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    target_kind: Mapped[str] = mapped_column(String(10))  # "thread" | "answer"
    target_id: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Revision(db.Model):
    """One version of a question or answer; the first is the original post."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_target", "target_kind", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str | None] = mapped_column(String(300))
    tags: Mapped[str | None] = mapped_column(String(250))
    body_md: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    editor: Mapped[User] = relationship(lazy="joined")


class Flag(db.Model):
    """A report to the moderators about a post."""

    __tablename__ = "flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(10))  # "thread" | "answer" | "comment"
    target_id: Mapped[int] = mapped_column(Integer)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved: Mapped[datetime | None] = mapped_column(DateTime)

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id], lazy="joined")


class Article(db.Model):
    """A written help article, loaded from content/."""

    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    reviewed: Mapped[datetime | None] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # "content": loaded from content/ (removed when its file goes); "promoted": from a thread.
    source: Mapped[str] = mapped_column(String(10), default="content")
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    from_thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    credits: Mapped[str] = mapped_column(Text, default="")  # contributor names, space-separated

    tags: Mapped[list[Tag]] = relationship(secondary=article_tags, order_by=Tag.name)

    @property
    def tag_names(self) -> list[str]:
        """The tag names, sorted."""
        return [t.name for t in self.tags]


class IndexJob(db.Model):
    """A pending search-index change, written in the same transaction as the post."""

    __tablename__ = "index_jobs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    doc_kind: Mapped[str] = mapped_column(String(10))  # "thread" | "article"
    doc_id: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DuplicateVote(db.Model):
    """A trusted member's vote that a thread duplicates another (3 votes close it)."""

    __tablename__ = "duplicate_votes"
    __table_args__ = (UniqueConstraint("thread_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    original_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Feedback(db.Model):
    """'Was this helpful?' on an article or a solved thread."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_target", "target_kind", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(10))  # "article" | "thread"
    target_id: Mapped[int] = mapped_column(Integer)
    helpful: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class ContentGap(db.Model):
    """A search or mention that found nothing good: normalised text, no personal data."""

    __tablename__ = "content_gaps"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(10))  # "search" | "mention"
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class RelatedCache(db.Model):
    """The 'related questions' of a thread, computed by search once and reused by page views."""

    __tablename__ = "related_cache"
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    items: Mapped[str] = mapped_column(Text)  # JSON list of {id, title, url, solved, answer}
    computed: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
