"""Q&A operations: ask, answer, comment, edit, vote, accept, flag, moderate.

Each operation validates, writes in one transaction, and queues the search-index change
in that same transaction. The acting user is always an argument.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from kb.db import atomic, db
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.events import emit
from kb.markup import RenderTimeout, render_markdown
from kb.models import Answer, Comment, Flag, Revision, Tag, Thread, User, Vote, utcnow
from kb.search import queue_index
from kb.validation import check_body, check_comment, check_title, clean_text, parse_tags

REP_UPVOTE = {"answer": 10, "thread": 5}
REP_DOWNVOTE = -2
REP_ACCEPTED = 15
FLAG_ACTIONS = ("hide", "dismiss")


def render_body(body: str, field: str = "body") -> str:
    """Render Markdown once, at write time; refuse what cannot be formatted in time."""
    # Formatting can take up to RENDER_TIMEOUT (more if the renderer restarts): end the open
    # transaction first so no lock is held meanwhile (on SQLite every writer would wait).
    # Callers render before they change anything, so there is nothing to lose here.
    if not (db.session.new or db.session.dirty or db.session.deleted):
        db.session.rollback()
    try:
        return render_markdown(body)
    except RenderTimeout:
        raise ValidationError(
            "This text could not be formatted in time. Simplify unusual punctuation "
            "(long runs of brackets or symbols) and try again.",
            field,
        ) from None


def get_or_create_tags(names: list[str]) -> list[Tag]:
    """Tag rows for the names, creating the missing ones."""
    existing = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(names)))}
    tags = []
    for name in names:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name)
            db.session.add(tag)
        tags.append(tag)
    return tags


def adjust_reputation(user_id: int, delta: int) -> None:
    """Add `delta` to a user's reputation in one atomic UPDATE."""
    if delta:
        db.session.execute(
            update(User).where(User.id == user_id).values(reputation=User.reputation + delta)
        )


def touch_thread(thread_id: int) -> None:
    """Count a change to what the thread page shows, in the caller's transaction.

    Every operation that changes a thread's page calls this (or bumps `version` in its own
    UPDATE): the anonymous page cache keys pages by it, so the next reader sees the change.
    """
    db.session.execute(
        update(Thread).where(Thread.id == thread_id).values(version=Thread.version + 1)
    )


def _commit() -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


@atomic
def ask_thread(
    author: User, *, title: object, body: object, tags: object, created: datetime | None = None
) -> Thread:
    """Post a new question."""
    title_s, body_s, tag_names = check_title(title), check_body(body), parse_tags(tags)
    html = render_body(body_s)
    now = created or utcnow()
    thread = Thread(
        title=title_s,
        body_md=body_s,
        body_html=html,
        author_id=author.id,
        created=now,
        last_activity=now,
        tags=get_or_create_tags(tag_names),
    )
    db.session.add(thread)
    db.session.flush()
    db.session.add(
        Revision(
            target_kind="thread",
            target_id=thread.id,
            editor_id=author.id,
            title=title_s,
            tags=" ".join(tag_names),
            body_md=body_s,
            created=now,
        )
    )
    queue_index("thread", thread.id)
    emit("thread.created", {"thread_id": thread.id, "actor_id": author.id})
    _commit()
    return thread


@atomic
def post_answer(thread: Thread, author: User, *, body: object) -> Answer:
    """Answer a thread's question."""
    if thread.hidden:
        raise NotFound("This thread is not available.")
    if thread.duplicate_of_id is not None:
        raise ValidationError(
            "This question is closed as a duplicate: please answer the original.", "body"
        )
    body_s = check_body(body)
    html = render_body(body_s)
    now = utcnow()
    answer = Answer(
        thread_id=thread.id, author_id=author.id, body_md=body_s, body_html=html, created=now
    )
    db.session.add(answer)
    db.session.flush()
    db.session.add(
        Revision(
            target_kind="answer", target_id=answer.id, editor_id=author.id, body_md=body_s,
            created=now,
        )
    )  # fmt: skip
    db.session.execute(
        update(Thread)
        .where(Thread.id == thread.id)
        .values(answer_count=Thread.answer_count + 1, last_activity=now, version=Thread.version + 1)
    )
    queue_index("thread", thread.id)
    emit("answer.created", {"thread_id": thread.id, "answer_id": answer.id, "actor_id": author.id})
    _commit()
    return answer


@atomic
def post_comment(
    author: User, thread: Thread, *, body: object, answer: Answer | None = None
) -> Comment:
    """Comment on a question or on one of its answers."""
    if thread.hidden or (answer is not None and (answer.thread_id != thread.id or answer.hidden)):
        raise NotFound("That post is not available.")
    text = check_comment(body)
    comment = Comment(
        thread_id=thread.id,
        answer_id=answer.id if answer else None,
        author_id=author.id,
        body=text,
    )
    db.session.add(comment)
    db.session.execute(
        update(Thread)
        .where(Thread.id == thread.id)
        .values(last_activity=utcnow(), version=Thread.version + 1)
    )
    db.session.flush()
    emit(
        "comment.created",
        {"thread_id": thread.id, "answer_id": comment.answer_id, "comment_id": comment.id,
         "actor_id": author.id},
    )  # fmt: skip
    _commit()
    return comment


def can_edit(user: User | None, author_id: int) -> bool:
    """Authors edit their own posts; moderators and staff edit any."""
    return user is not None and (user.id == author_id or user.is_moderator)


@atomic
def edit_thread(
    thread: Thread, editor: User, *, title: object, body: object, tags: object
) -> Thread:
    """Change a question's title, body or tags, keeping a revision."""
    if not can_edit(editor, thread.author_id):
        raise PermissionDenied("You can only edit your own posts.")
    title_s, body_s, tag_names = check_title(title), check_body(body), parse_tags(tags)
    if title_s == thread.title and body_s == thread.body_md and tag_names == thread.tag_names:
        return thread
    if body_s != thread.body_md:
        thread.body_html = render_body(body_s)
    thread.title, thread.body_md = title_s, body_s
    thread.tags = get_or_create_tags(tag_names)
    thread.edited = utcnow()
    touch_thread(thread.id)
    db.session.add(
        Revision(
            target_kind="thread", target_id=thread.id, editor_id=editor.id, title=title_s,
            tags=" ".join(tag_names), body_md=body_s,
        )
    )  # fmt: skip
    queue_index("thread", thread.id)
    _commit()
    return thread


@atomic
def edit_answer(answer: Answer, editor: User, *, body: object) -> Answer:
    """Change an answer's body, keeping a revision."""
    if not can_edit(editor, answer.author_id):
        raise PermissionDenied("You can only edit your own posts.")
    body_s = check_body(body)
    if body_s == answer.body_md:
        return answer
    answer.body_html = render_body(body_s)
    answer.body_md = body_s
    answer.edited = utcnow()
    db.session.add(
        Revision(target_kind="answer", target_id=answer.id, editor_id=editor.id, body_md=body_s)
    )
    touch_thread(answer.thread_id)
    queue_index("thread", answer.thread_id)
    _commit()
    return answer


def _vote_target(kind: str, target_id: int) -> Thread | Answer:
    model = {"thread": Thread, "answer": Answer}.get(kind)
    target = db.session.get(model, target_id) if model else None
    if target is None or target.hidden:
        raise NotFound("That post does not exist.")
    return target


def _rep_for(kind: str, value: int) -> int:
    return REP_UPVOTE[kind] if value > 0 else REP_DOWNVOTE if value < 0 else 0


@atomic
def cast_vote(user: User, kind: str, target_id: int, value: int) -> int:
    """Vote +1 or -1 on a question or answer (0 withdraws); returns the new score."""
    if value not in (-1, 0, 1):
        raise ValidationError("A vote is up, down, or withdrawn.", "value")
    target = _vote_target(kind, target_id)
    if target.author_id == user.id:
        raise PermissionDenied("You can't vote on your own post.")
    model = type(target)
    for attempt in range(2):
        existing = db.session.scalar(
            select(Vote).where(
                Vote.user_id == user.id, Vote.target_kind == kind, Vote.target_id == target_id
            )
        )
        old = existing.value if existing else 0
        # Read the score inside this transaction: a read after the commit would open a new
        # one (a write lock on SQLite) and hold it until the session's next commit.
        if old == value:
            unchanged = db.session.scalar(select(model.score).where(model.id == target_id))
            db.session.rollback()
            return unchanged
        if existing is None:
            db.session.add(
                Vote(user_id=user.id, target_kind=kind, target_id=target_id, value=value)
            )
        elif value == 0:
            db.session.delete(existing)
        else:
            existing.value = value
        db.session.execute(
            update(model).where(model.id == target_id).values(score=model.score + (value - old))
        )
        adjust_reputation(target.author_id, _rep_for(kind, value) - _rep_for(kind, old))
        thread_id = target.thread_id if isinstance(target, Answer) else target_id
        touch_thread(thread_id)
        if kind == "answer":
            queue_index("thread", thread_id)
        new_score = db.session.scalar(select(model.score).where(model.id == target_id))
        try:
            db.session.commit()
            break
        except IntegrityError:
            # Another request by the same user won the race on PostgreSQL; read again.
            db.session.rollback()
            if attempt:
                raise
    return new_score


def user_votes(user: User | None, thread: Thread) -> dict[tuple[str, int], int]:
    """The user's votes on a thread's question and answers, keyed by (kind, id)."""
    if user is None:
        return {}
    answer_ids = [a.id for a in thread.answers]
    rows = db.session.execute(
        select(Vote.target_kind, Vote.target_id, Vote.value).where(
            Vote.user_id == user.id,
            ((Vote.target_kind == "thread") & (Vote.target_id == thread.id))
            | ((Vote.target_kind == "answer") & Vote.target_id.in_(answer_ids)),
        )
    )
    return {(k, i): v for k, i, v in rows}


def can_accept(user: User | None, thread: Thread) -> bool:
    """The asker or a moderator may accept an answer."""
    return user is not None and (user.id == thread.author_id or user.is_moderator)


def _set_accepted(thread: Thread, answer: Answer | None, actor_id: int) -> None:
    previous = (
        db.session.get(Answer, thread.accepted_answer_id) if thread.accepted_answer_id else None
    )
    if previous is not None and previous.author_id != thread.author_id:
        adjust_reputation(previous.author_id, -REP_ACCEPTED)
    if answer is not None and answer.author_id != thread.author_id:
        adjust_reputation(answer.author_id, REP_ACCEPTED)
    thread.accepted_answer_id = answer.id if answer else None
    thread.last_activity = utcnow()
    touch_thread(thread.id)
    queue_index("thread", thread.id)
    if answer is not None:
        from kb.concierge.service import on_thread_solved

        emit(
            "thread.solved", {"thread_id": thread.id, "answer_id": answer.id, "actor_id": actor_id}
        )
        on_thread_solved(thread)  # a customer who asked on X hears back (one follow-up, approved)
    _commit()


@atomic
def accept_answer(thread: Thread, answer: Answer, user: User) -> None:
    """Mark the answer that worked; the thread becomes Solved."""
    if not can_accept(user, thread):
        raise PermissionDenied("Only the person who asked (or a moderator) can accept an answer.")
    if answer.thread_id != thread.id or answer.hidden:
        raise NotFound("That answer is not part of this thread.")
    if thread.accepted_answer_id == answer.id:
        return
    _set_accepted(thread, answer, user.id)


@atomic
def unaccept_answer(thread: Thread, user: User) -> None:
    """Take back the accepted answer; the thread is no longer Solved."""
    if not can_accept(user, thread):
        raise PermissionDenied("Only the person who asked (or a moderator) can change this.")
    if thread.accepted_answer_id is None:
        return
    _set_accepted(thread, None, user.id)


FLAG_MODELS = {"thread": Thread, "answer": Answer, "comment": Comment}


@atomic
def flag_post(user: User, kind: str, target_id: int, *, reason: object) -> Flag:
    """Report a post to the moderators with a reason."""
    model = FLAG_MODELS.get(kind)
    target = db.session.get(model, target_id) if model else None
    if target is None:
        raise NotFound("That post does not exist.")
    text = " ".join(clean_text(reason).split())
    if not 5 <= len(text) <= 500:
        raise ValidationError("Tell the moderators what is wrong (5 to 500 characters).", "reason")
    duplicate = db.session.scalar(
        select(Flag).where(
            Flag.reporter_id == user.id,
            Flag.target_kind == kind,
            Flag.target_id == target_id,
            Flag.status == "open",
        )
    )
    if duplicate is not None:
        raise ValidationError("You have already flagged this post.", "reason")
    flag = Flag(target_kind=kind, target_id=target_id, reporter_id=user.id, reason=text)
    db.session.add(flag)
    _commit()
    return flag


@atomic
def resolve_flag(flag: Flag, moderator: User, action: str) -> None:
    """Hide the flagged post or dismiss the flag; resolves every open flag on that post."""
    if not moderator.is_moderator:
        raise PermissionDenied("Only moderators can resolve flags.")
    if action not in FLAG_ACTIONS:
        raise ValidationError("Choose hide or dismiss.", "action")
    target = db.session.get(FLAG_MODELS[flag.target_kind], flag.target_id)
    if action == "hide" and target is not None and not target.hidden:
        target.hidden = True
        thread_id = target.id if isinstance(target, Thread) else target.thread_id
        if isinstance(target, Answer):
            db.session.execute(
                update(Thread)
                .where(Thread.id == thread_id)
                .values(answer_count=Thread.answer_count - 1)
            )
            if target.thread.accepted_answer_id == target.id:
                target.thread.accepted_answer_id = None
                # The acceptance is gone, so is its reputation (as when switching answers).
                if target.author_id != target.thread.author_id:
                    adjust_reputation(target.author_id, -REP_ACCEPTED)
        touch_thread(thread_id)
        queue_index("thread", thread_id)
    now = utcnow()
    for other in db.session.scalars(
        select(Flag).where(
            Flag.target_kind == flag.target_kind,
            Flag.target_id == flag.target_id,
            Flag.status == "open",
        )
    ):
        other.status = "hidden" if action == "hide" else "dismissed"
        other.resolved_by_id = moderator.id
        other.resolved = now
    _commit()


def get_thread(thread_id: int, viewer: User | None = None) -> Thread:
    """A thread by id, or NotFound (hidden threads only for moderators)."""
    thread = db.session.get(Thread, thread_id)
    if thread is None or (thread.hidden and not (viewer and viewer.is_moderator)):
        raise NotFound("That thread does not exist.")
    return thread


# Built once and run on the session's connection: the page cache asks this on every logged-out
# view, and building the statement and the ORM's result handling cost 5x the query itself.
_STAMP = select(Thread.title, Thread.version).where(
    Thread.id == bindparam("thread_id"), Thread.hidden.is_(False)
)


def thread_stamp(thread_id: int) -> tuple[str, int] | None:
    """A visible thread's title and page version, in one cheap query (None: no such thread)."""
    row = db.session.connection().execute(_STAMP, {"thread_id": thread_id}).first()
    return (row[0], row[1]) if row is not None else None


def get_answer(answer_id: int, viewer: User | None = None) -> Answer:
    """An answer by id, or NotFound."""
    answer = db.session.get(Answer, answer_id)
    if answer is None or (answer.hidden and not (viewer and viewer.is_moderator)):
        raise NotFound("That answer does not exist.")
    return answer


TABS = ("recent", "unanswered", "solved")


def list_threads(
    *, tab: str = "recent", tag: str | None = None, page: int = 1, per_page: int = 20
) -> tuple[list[Thread], bool]:
    """One page of visible threads for a tab (and tag); returns (threads, has_next)."""
    from kb.models import thread_tags

    stmt = select(Thread).where(Thread.hidden.is_(False))
    if tab == "unanswered":
        stmt = stmt.where(Thread.answer_count == 0)
    elif tab == "solved":
        stmt = stmt.where(Thread.accepted_answer_id.is_not(None))
    if tag:
        tag_id = db.session.scalar(select(Tag.id).where(Tag.name == tag))
        if tag_id is None:
            return [], False
        stmt = stmt.where(
            Thread.id.in_(select(thread_tags.c.thread_id).where(thread_tags.c.tag_id == tag_id))
        )
    from sqlalchemy.orm import selectinload

    rows = db.session.scalars(
        stmt.options(selectinload(Thread.tags))
        .order_by(Thread.last_activity.desc(), Thread.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page


def thread_page_data(thread: Thread, viewer: User | None) -> dict[str, object]:
    """Answers in display order and comments grouped by post, for the thread page."""
    show_hidden = viewer is not None and viewer.is_moderator
    answers = [a for a in thread.answers if show_hidden or not a.hidden]
    answers.sort(key=lambda a: (a.id != thread.accepted_answer_id, -a.score, a.created, a.id))
    comments: dict[int | None, list[Comment]] = {}
    stmt = (
        select(Comment).where(Comment.thread_id == thread.id).order_by(Comment.created, Comment.id)
    )
    for comment in db.session.scalars(stmt):
        if comment.hidden and not show_hidden:
            continue
        comments.setdefault(comment.answer_id, []).append(comment)
    return {"answers": answers, "comments": comments, "votes": user_votes(viewer, thread)}


def tag_counts(limit: int = 200) -> list[tuple[str, int]]:
    """Tags with how many visible threads use them, most used first."""
    from sqlalchemy import func

    from kb.models import thread_tags

    rows = db.session.execute(
        select(Tag.name, func.count(thread_tags.c.thread_id))
        .join(thread_tags, thread_tags.c.tag_id == Tag.id)
        .join(Thread, Thread.id == thread_tags.c.thread_id)
        .where(Thread.hidden.is_(False))
        .group_by(Tag.name)
        .order_by(func.count(thread_tags.c.thread_id).desc(), Tag.name)
        .limit(limit)
    )
    return [(name, count) for name, count in rows]


def revisions_of(kind: str, target_id: int) -> list[Revision]:
    """Every version of a post, oldest first."""
    return list(
        db.session.scalars(
            select(Revision)
            .where(Revision.target_kind == kind, Revision.target_id == target_id)
            .order_by(Revision.created, Revision.id)
        )
    )
