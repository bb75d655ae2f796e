"""Duplicates: close a thread as a copy of another; search then shows the original.

Moderators close a duplicate at once; members with enough reputation vote, and three votes
for the same original close it. The original's index entry absorbs the duplicate's wording.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from kb.db import atomic, db
from kb.errors import PermissionDenied, ValidationError
from kb.models import DuplicateVote, Thread, User
from kb.search import queue_index
from kb.threads import touch_thread

VOTES_TO_CLOSE = 3
REPUTATION_TO_VOTE = 50


def can_vote_duplicate(user: User | None) -> bool:
    """Moderators, and members with enough reputation."""
    return user is not None and (user.is_moderator or user.reputation >= REPUTATION_TO_VOTE)


def _root(thread: Thread) -> Thread:
    """Follow duplicate links to the thread that stays open."""
    seen = {thread.id}
    while thread.duplicate_of_id and thread.duplicate_of_id not in seen:
        parent = db.session.get(Thread, thread.duplicate_of_id)
        if parent is None:
            break
        seen.add(parent.id)
        thread = parent
    return thread


@atomic
def vote_duplicate(thread: Thread, original: Thread, user: User) -> bool:
    """Vote (or, as a moderator, decide) that `thread` duplicates `original`; True if closed."""
    if not can_vote_duplicate(user):
        raise PermissionDenied(
            f"You need {REPUTATION_TO_VOTE} reputation (or to be a moderator) to close duplicates."
        )
    original = _root(original)
    if original.id == thread.id or original.hidden:
        raise ValidationError("Pick a different, visible thread as the original.", "original")
    if thread.duplicate_of_id is not None:
        raise ValidationError("This thread is already closed as a duplicate.", "original")
    if user.is_moderator:
        _close(thread, original)
        return True
    existing = db.session.scalar(
        select(DuplicateVote).where(
            DuplicateVote.thread_id == thread.id, DuplicateVote.user_id == user.id
        )
    )
    if existing is not None:
        existing.original_id = original.id
    else:
        db.session.add(DuplicateVote(thread_id=thread.id, original_id=original.id, user_id=user.id))
    db.session.flush()
    votes = db.session.scalar(
        select(func.count(DuplicateVote.id)).where(
            DuplicateVote.thread_id == thread.id, DuplicateVote.original_id == original.id
        )
    )
    if (votes or 0) >= VOTES_TO_CLOSE:
        _close(thread, original)
        return True
    db.session.commit()
    return False


def _close(thread: Thread, original: Thread) -> None:
    thread.duplicate_of_id = original.id
    touch_thread(thread.id)
    # Threads that pointed at this one now point at the original (and their pages change).
    db.session.execute(
        update(Thread)
        .where(Thread.duplicate_of_id == thread.id)
        .values(duplicate_of_id=original.id, version=Thread.version + 1)
    )
    queue_index("thread", thread.id)
    queue_index("thread", original.id)
    db.session.commit()


@atomic
def unmark_duplicate(thread: Thread, user: User) -> None:
    """Reopen a thread closed as a duplicate (moderators)."""
    if not user.is_moderator:
        raise PermissionDenied("Only moderators can reopen a duplicate.")
    if thread.duplicate_of_id is None:
        return
    original_id = thread.duplicate_of_id
    thread.duplicate_of_id = None
    touch_thread(thread.id)
    db.session.execute(delete(DuplicateVote).where(DuplicateVote.thread_id == thread.id))
    queue_index("thread", thread.id)
    queue_index("thread", original_id)
    db.session.commit()


def duplicate_votes(thread: Thread) -> list[tuple[int, int]]:
    """(original id, votes) pairs for a thread still open."""
    rows = db.session.execute(
        select(DuplicateVote.original_id, func.count(DuplicateVote.id))
        .where(DuplicateVote.thread_id == thread.id)
        .group_by(DuplicateVote.original_id)
    )
    return [(original_id, count) for original_id, count in rows]
