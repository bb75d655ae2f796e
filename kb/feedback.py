"""'Was this helpful?' on articles and solved threads, and the bounded ranking boost."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import case, func, select

from kb.db import atomic, db
from kb.errors import NotFound, ValidationError
from kb.models import Article, Feedback, Thread, User, utcnow
from kb.search import queue_index
from kb.validation import clean_text

REVIEW_WINDOW_DAYS = 30
MAX_BOOST = 0.1


@atomic
def record_feedback(
    kind: str, target_id: int, *, helpful: bool, reason: object, user: User | None
) -> Feedback:
    """Store one yes/no answer (a logged-in user's later answer replaces the earlier one)."""
    if kind == "article":
        target = db.session.get(Article, target_id)
        if target is None or not target.published:
            raise NotFound("That article does not exist.")
    elif kind == "thread":
        thread = db.session.get(Thread, target_id)
        if thread is None or thread.hidden or not thread.solved:
            raise NotFound("Feedback is for solved threads.")
    else:
        raise NotFound("Feedback is for articles and solved threads.")
    text = " ".join(clean_text(reason).split())
    if len(text) > 500:
        raise ValidationError("Keep the reason under 500 characters.", "reason")
    row = None
    if user is not None:
        row = db.session.scalar(
            select(Feedback).where(
                Feedback.user_id == user.id,
                Feedback.target_kind == kind,
                Feedback.target_id == target_id,
            )
        )
    if row is None:
        row = Feedback(target_kind=kind, target_id=target_id, user_id=user.id if user else None)
        db.session.add(row)
    row.helpful, row.reason, row.created = helpful, text, utcnow()
    queue_index(kind, target_id)
    db.session.commit()
    return row


def counts(kind: str, target_id: int) -> tuple[int, int]:
    """(yes, no) counts for one article or thread."""
    yes, no = db.session.execute(
        select(
            func.coalesce(func.sum(case((Feedback.helpful.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Feedback.helpful.is_(False), 1), else_=0)), 0),
        ).where(Feedback.target_kind == kind, Feedback.target_id == target_id)
    ).one()
    return int(yes), int(no)


def boost(yes: int, no: int, clicks: int = 0) -> float:
    """A small bounded score multiplier term: at most +/-10% of relevance, never more."""
    signal = (yes - no) + clicks / 5.0
    return round(MAX_BOOST * math.tanh(signal / 10.0), 4)


def needs_review() -> list[dict[str, object]]:
    """Articles and solved threads with 'no' feedback in the last 30 days, worst first."""
    since = utcnow() - timedelta(days=REVIEW_WINDOW_DAYS)
    rows = db.session.execute(
        select(Feedback.target_kind, Feedback.target_id, func.count(Feedback.id))
        .where(Feedback.helpful.is_(False), Feedback.created >= since)
        .group_by(Feedback.target_kind, Feedback.target_id)
        .order_by(func.count(Feedback.id).desc())
        .limit(100)
    )
    out = []
    for kind, target_id, no_count in rows:
        target = db.session.get(Article if kind == "article" else Thread, target_id)
        if target is None:
            continue
        if kind == "article" and target.reviewed and target.reviewed >= since:
            # Reviewed since: only 'no' answers after the review count.
            later = db.session.scalar(
                select(func.count(Feedback.id)).where(
                    Feedback.target_kind == kind, Feedback.target_id == target_id,
                    Feedback.helpful.is_(False), Feedback.created > target.reviewed,
                )
            )  # fmt: skip
            if not later:
                continue
        reasons = db.session.scalars(
            select(Feedback.reason)
            .where(
                Feedback.target_kind == kind, Feedback.target_id == target_id,
                Feedback.helpful.is_(False), Feedback.reason != "",
            )
            .order_by(Feedback.id.desc())
            .limit(3)
        ).all()  # fmt: skip
        out.append({"kind": kind, "target": target, "no": no_count, "reasons": reasons})
    return out


def is_flagged_for_review(kind: str, target_id: int) -> bool:
    """Whether an item has recent 'no' feedback that no review has answered."""
    since = utcnow() - timedelta(days=REVIEW_WINDOW_DAYS)
    if kind == "article":
        article = db.session.get(Article, target_id)
        if article is not None and article.reviewed and article.reviewed > since:
            since = article.reviewed  # only answers after the last review count
    later = db.session.scalar(
        select(func.count(Feedback.id)).where(
            Feedback.target_kind == kind, Feedback.target_id == target_id,
            Feedback.helpful.is_(False), Feedback.created > since,
        )
    )  # fmt: skip
    return bool(later)
