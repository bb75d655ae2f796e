"""Follow and unfollow threads and tags; read, count and clear notifications.

The acting user is always an argument; nothing here touches the request.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from kb.db import db
from kb.errors import NotFound
from kb.models import Tag, Thread, User, utcnow
from kb.notifications.models import Follow, Notification
from kb.threads import get_thread
from kb.urls import thread_path
from kb.validation import TAG_RE


def _add_follow(follow: Follow) -> None:
    """Insert a follow and commit; a concurrent duplicate counts as success."""
    db.session.add(follow)
    try:
        db.session.commit()
    except IntegrityError:
        # A double click or a second tab won the race: the follow exists, which is the goal.
        db.session.rollback()


def _find_tag(name: str) -> Tag:
    tag = None
    if len(name) <= 30 and TAG_RE.match(name):
        tag = db.session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        raise NotFound("That tag does not exist.")
    return tag


def follow_thread(user: User, thread_id: int) -> Thread:
    """Hear about new answers, comments and acceptance on a thread."""
    thread = get_thread(thread_id, user)
    if not is_following(user, "thread", thread.id):
        _add_follow(Follow(user_id=user.id, kind="thread", thread_id=thread.id))
    return thread


def unfollow_thread(user: User, thread_id: int) -> Thread:
    """Stop hearing about a thread (hidden ones too: they may still be followed)."""
    thread = db.session.get(Thread, thread_id)
    if thread is None:
        raise NotFound("That thread does not exist.")
    db.session.execute(
        delete(Follow).where(Follow.user_id == user.id, Follow.thread_id == thread_id)
    )
    db.session.commit()
    return thread


def follow_tag(user: User, name: str) -> None:
    """Hear about new questions with a tag (and get them in the daily digest)."""
    tag = _find_tag(name)
    if not is_following(user, "tag", tag.id):
        _add_follow(Follow(user_id=user.id, kind="tag", tag_id=tag.id))


def unfollow_tag(user: User, name: str) -> None:
    """Stop hearing about a tag."""
    tag = _find_tag(name)
    db.session.execute(delete(Follow).where(Follow.user_id == user.id, Follow.tag_id == tag.id))
    db.session.commit()


def is_following(user: User, kind: str, target_id: int) -> bool:
    """Whether the user follows this thread or tag (by id)."""
    column = Follow.thread_id if kind == "thread" else Follow.tag_id
    found = db.session.scalar(
        select(Follow.id).where(Follow.user_id == user.id, column == target_id).limit(1)
    )
    return found is not None


def is_following_tag(user: User, name: str) -> bool:
    """Whether the user follows the tag with this name."""
    found = db.session.scalar(
        select(Follow.id)
        .join(Tag, Tag.id == Follow.tag_id)
        .where(Follow.user_id == user.id, Tag.name == name)
        .limit(1)
    )
    return found is not None


def followed_tags(user: User) -> list[Tag]:
    """The tags a user follows, by name."""
    return list(
        db.session.scalars(
            select(Tag).join(Follow, Follow.tag_id == Tag.id).where(Follow.user_id == user.id)
            .order_by(Tag.name)
        )
    )  # fmt: skip


def followed_threads(user: User, limit: int = 200) -> list[Thread]:
    """The visible threads a user follows, most recently active first."""
    return list(
        db.session.scalars(
            select(Thread)
            .join(Follow, Follow.thread_id == Thread.id)
            .where(Follow.user_id == user.id, Thread.hidden.is_(False))
            .order_by(Thread.last_activity.desc(), Thread.id.desc())
            .limit(limit)
        )
    )


def list_notifications(
    user: User, *, page: int = 1, per_page: int = 20
) -> tuple[list[Notification], bool]:
    """One page of a user's notifications, newest first; returns (rows, has_next)."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
        .options(selectinload(Notification.thread), selectinload(Notification.actor))
        .order_by(Notification.created.desc(), Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page


def unread_count(user: User) -> int:
    """How many notifications the user has not yet marked read (one COUNT query)."""
    return (
        db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_all_read(user: User) -> int:
    """Mark every unread notification read; returns how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


VERBS = {
    "answer": "answered",
    "comment": "commented on",
    "accepted": "accepted your answer to",
    "solved": "accepted an answer to",
    "mention": "mentioned you in",
    "new_thread": "asked",
}


def notification_text(note: Notification) -> str:
    """One line for a notification: 'ann answered "Hub 3 light is amber"'."""
    who = note.actor.name if note.actor else "Someone"
    if note.thread.hidden:
        return f"{who} posted in a thread that has been removed"
    return f'{who} {VERBS.get(note.kind, "posted in")} "{note.thread.title}"'


def notification_path(note: Notification) -> str:
    """The site path a notification points at: the thread, at the answer or comment."""
    path = thread_path(note.thread_id, note.thread.title, note.answer_id)
    if note.comment_id:
        path = thread_path(note.thread_id, note.thread.title) + f"#comment-{note.comment_id}"
    return path
