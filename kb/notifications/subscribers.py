"""Turn domain events into follows and notifications, inside the writer's transaction.

Each event gives every person at most one notification; when someone qualifies twice (a
follower who is also mentioned) the more personal kind wins. The actor never hears about
their own post. Subscribers only add rows: they never commit.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from kb.db import db
from kb.events import subscribe
from kb.models import Answer, Comment, Thread, User
from kb.notifications.models import Follow, Notification

# Higher wins when one person qualifies for several kinds in the same event.
PRIORITY = {"accepted": 4, "mention": 3, "answer": 2, "comment": 2, "solved": 2, "new_thread": 1}
# More names than this in one post is a roll call, not a conversation: the rest are ignored.
MAX_MENTIONS = 10

_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)
# @name not preceded by a word character (so emails don't count), and not cut short.
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_-]{3,30})(?![A-Za-z0-9_-])")


def mentioned_names(text: str) -> list[str]:
    """The distinct @names in a post (lowercased, code spans ignored), at most MAX_MENTIONS."""
    names: list[str] = []
    for match in _MENTION.finditer(_CODE.sub(" ", text)):
        name = match.group(1).lower()
        if name not in names:
            names.append(name)
            if len(names) == MAX_MENTIONS:
                break
    return names


def _mentioned_ids(text: str) -> list[int]:
    names = mentioned_names(text)
    if not names:
        return []
    return list(db.session.scalars(select(User.id).where(User.name.in_(names))))


def _thread_followers(thread_id: int) -> list[int]:
    return list(db.session.scalars(select(Follow.user_id).where(Follow.thread_id == thread_id)))


def _tag_followers(tag_ids: list[int]) -> list[int]:
    if not tag_ids:
        return []
    stmt = select(Follow.user_id).where(Follow.tag_id.in_(tag_ids)).distinct()
    return list(db.session.scalars(stmt))


def _ensure_thread_follow(user_id: int, thread_id: int) -> None:
    """Follow a thread if not already; a concurrent identical follow is not an error."""
    exists = db.session.scalar(
        select(Follow.id).where(Follow.user_id == user_id, Follow.thread_id == thread_id)
    )
    if exists is not None:
        return
    values = {"user_id": user_id, "kind": "thread", "thread_id": thread_id}
    dialect = db.session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        db.session.add(Follow(**values))
        return
    # ON CONFLICT DO NOTHING rather than a savepoint: a duplicate must not fail the post
    # being written, and a savepoint's commit would fire the session's after_commit hooks.
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    db.session.execute(insert(Follow).values(**values).on_conflict_do_nothing())


def _notify(
    recipients: dict[int, str], payload: dict[str, Any], *, answer_id: int | None = None
) -> None:
    actor_id = payload.get("actor_id")
    for user_id, kind in recipients.items():
        if user_id == actor_id:
            continue
        db.session.add(
            Notification(
                user_id=user_id,
                kind=kind,
                thread_id=payload["thread_id"],
                answer_id=answer_id,
                comment_id=payload.get("comment_id"),
                actor_id=actor_id,
            )
        )


def _collect(recipients: dict[int, str], user_ids: list[int], kind: str) -> None:
    for user_id in user_ids:
        current = recipients.get(user_id)
        if current is None or PRIORITY[kind] > PRIORITY[current]:
            recipients[user_id] = kind


def on_thread_created(name: str, payload: dict[str, Any]) -> None:
    """The asker follows the thread; tag followers and @mentioned people hear about it."""
    thread = db.session.get(Thread, payload["thread_id"])
    if thread is None:
        return
    _ensure_thread_follow(payload["actor_id"], thread.id)
    recipients: dict[int, str] = {}
    _collect(recipients, _tag_followers([t.id for t in thread.tags]), "new_thread")
    _collect(recipients, _mentioned_ids(thread.body_md), "mention")
    _notify(recipients, payload)


def on_answer_created(name: str, payload: dict[str, Any]) -> None:
    """The answerer follows the thread; its followers and @mentioned people hear about it."""
    answer = db.session.get(Answer, payload["answer_id"])
    if answer is None:
        return
    recipients: dict[int, str] = {}
    _collect(recipients, _thread_followers(payload["thread_id"]), "answer")
    _collect(recipients, _mentioned_ids(answer.body_md), "mention")
    _ensure_thread_follow(payload["actor_id"], payload["thread_id"])
    _notify(recipients, payload, answer_id=answer.id)


def on_comment_created(name: str, payload: dict[str, Any]) -> None:
    """The thread's followers and @mentioned people hear about a new comment."""
    comment = db.session.get(Comment, payload["comment_id"])
    if comment is None:
        return
    recipients: dict[int, str] = {}
    _collect(recipients, _thread_followers(payload["thread_id"]), "comment")
    _collect(recipients, _mentioned_ids(comment.body), "mention")
    _notify(recipients, payload, answer_id=payload.get("answer_id"))


def on_thread_solved(name: str, payload: dict[str, Any]) -> None:
    """The accepted answer's author and the thread's followers hear the thread is solved."""
    answer = db.session.get(Answer, payload["answer_id"])
    if answer is None:
        return
    recipients: dict[int, str] = {}
    _collect(recipients, _thread_followers(payload["thread_id"]), "solved")
    _collect(recipients, [answer.author_id], "accepted")
    _notify(recipients, payload, answer_id=answer.id)


def subscribe_all() -> None:
    """Attach the subscribers to the domain events (idempotent)."""
    subscribe("thread.created", on_thread_created)
    subscribe("answer.created", on_answer_created)
    subscribe("comment.created", on_comment_created)
    subscribe("thread.solved", on_thread_solved)
