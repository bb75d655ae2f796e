"""Numbers for the concierge page: volume, decisions, speed, clicks, threads from mentions."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median, quantiles

from sqlalchemy import func, select

from kb.concierge.models import Click, Mention, Reply
from kb.db import db
from kb.models import Thread


@dataclass
class Measures:
    """What /concierge shows staff."""

    mentions: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    replies_sent: int = 0
    median_minutes: float | None = None
    p90_minutes: float | None = None
    clicks: int = 0
    click_through: float | None = None
    per_reply: list[tuple[Reply, int]] = field(default_factory=list)
    threads_from_mentions: int = 0
    threads_solved: int = 0


def compute() -> Measures:
    """Compute the measures from the database."""
    m = Measures()
    m.by_decision = {
        decision: count
        for decision, count in db.session.execute(
            select(Mention.decision, func.count(Mention.id)).group_by(Mention.decision)
        )
    }
    m.mentions = sum(m.by_decision.values())
    sent = db.session.execute(
        select(Reply, Mention.created_at, Mention.received_at)
        .join(Mention, Mention.id == Reply.mention_id)
        .where(Reply.state == "sent")
        .order_by(Reply.sent_at.desc())
    ).all()
    m.replies_sent = len(sent)
    waits = []
    for reply, created, received in sent:
        start = created or received
        if reply.sent_at and start:
            waits.append(max(0.0, (reply.sent_at - start).total_seconds() / 60))
    if waits:
        m.median_minutes = round(median(waits), 1)
        m.p90_minutes = (
            # "inclusive": the percentile of the waits seen, never beyond the longest one
            round(quantiles(waits, n=10, method="inclusive")[-1], 1)
            if len(waits) > 1
            else round(waits[0], 1)
        )
    clicks = {
        code: count
        for code, count in db.session.execute(
            select(Click.code, func.count(Click.id)).group_by(Click.code)
        )
    }
    linked = [reply for reply, _c, _r in sent if reply.short_code]
    m.per_reply = [(reply, clicks.get(reply.short_code or "", 0)) for reply in linked[:50]]
    m.clicks = sum(clicks.get(r.short_code or "", 0) for r in linked)
    if linked:
        m.click_through = round(
            sum(1 for r in linked if clicks.get(r.short_code or "")) / len(linked), 3
        )
    m.threads_from_mentions = (
        db.session.scalar(select(func.count(Mention.id)).where(Mention.thread_id.is_not(None))) or 0
    )
    m.threads_solved = (
        db.session.scalar(
            select(func.count(Mention.id))
            .join(Thread, Thread.id == Mention.thread_id)
            .where(Thread.accepted_answer_id.is_not(None))
        )
        or 0
    )
    return m
