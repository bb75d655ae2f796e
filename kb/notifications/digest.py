"""The daily digest: new unanswered questions in the tags a user follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.db import db
from kb.models import Thread, User, thread_tags, utcnow
from kb.notifications.mail import Mail, send_mails
from kb.notifications.models import DigestLog, Follow
from kb.urls import external, thread_path

DIGEST_HOURS = 24
DIGEST_LIMIT = 50
# A digest is daily: a user who had one less than this long ago gets none, so running
# `kb digest send` twice (by hand, or a retried cron job) does not mail anyone twice.
MIN_GAP_HOURS = 20


def digest_threads(
    user: User,
    *,
    now: datetime | None = None,
    hours: int = DIGEST_HOURS,
    since: datetime | None = None,
) -> list[Thread]:
    """Visible, unanswered, open questions from the last `hours` in the user's followed tags.

    `since` narrows the window further (to what came after the user's last digest).
    """
    window = (now or utcnow()) - timedelta(hours=hours)
    since = max(window, since) if since else window
    followed = select(Follow.tag_id).where(Follow.user_id == user.id, Follow.tag_id.is_not(None))
    in_tags = select(thread_tags.c.thread_id).where(thread_tags.c.tag_id.in_(followed))
    return list(
        db.session.scalars(
            select(Thread)
            .where(
                Thread.id.in_(in_tags),
                Thread.hidden.is_(False),
                Thread.answer_count == 0,
                Thread.duplicate_of_id.is_(None),
                Thread.created >= since,
                Thread.author_id != user.id,  # your own question is not news to you
            )
            .options(selectinload(Thread.tags))
            .order_by(Thread.created.desc(), Thread.id.desc())
            .limit(DIGEST_LIMIT)
        )
    )


def digest_recipients() -> list[User]:
    """Users with an email address who follow at least one tag."""
    follows_tags = select(Follow.user_id).where(Follow.tag_id.is_not(None))
    stmt = (
        select(User)
        .where(User.email.is_not(None), User.email != "", User.id.in_(follows_tags))
        .order_by(User.id)
    )
    return list(db.session.scalars(stmt))


@dataclass
class DigestReport:
    """What `kb digest send` did."""

    sent: int = 0
    skipped: int = 0
    already: int = 0  # had a digest less than MIN_GAP_HOURS ago
    failed: list[str] = field(default_factory=list)


def compose_digest(user: User, threads: list[Thread]) -> Mail:
    """The plain-text and HTML digest email for one user."""
    config = current_app.config
    items = [
        {
            "title": t.title,
            "url": external(thread_path(t.id, t.title)),
            "tags": t.tag_names,
            "created": t.created,
        }
        for t in threads
    ]
    count = len(items)
    subject = (
        f"{config['SITE_NAME']}: {count} new unanswered question{'' if count == 1 else 's'}"
        " in your tags"
    )
    context = {
        "user": user,
        "items": items,
        "site_name": config["SITE_NAME"],
        "settings_url": external("/settings"),
        "digest_url": external("/digest"),
    }
    return Mail(
        to=user.email or "",
        subject=subject,
        text=render_template("notifications/digest_email.txt", **context),
        html=render_template("notifications/digest_email.html", **context),
    )


def send_digests(*, now: datetime | None = None) -> DigestReport:
    """Email each tag follower their digest; users with nothing new get no email.

    Each sent digest is logged in its own short transaction right after the mail server
    accepts it, so a run that stops halfway resumes where it stopped: only a mail whose
    log entry was lost in a crash at that very moment can go out twice.
    """
    now = now or utcnow()
    report = DigestReport()
    last_sent = {
        row[0]: row[1] for row in db.session.execute(select(DigestLog.user_id, DigestLog.sent_at))
    }
    mails: list[Mail] = []
    owners: dict[int, int] = {}  # id(mail) -> user id
    for user in digest_recipients():
        previous = last_sent.get(user.id)
        if previous and now - previous < timedelta(hours=MIN_GAP_HOURS):
            report.already += 1
            continue
        threads = digest_threads(user, now=now, since=previous)
        if threads:
            mail = compose_digest(user, threads)
            mails.append(mail)
            owners[id(mail)] = user.id
        else:
            report.skipped += 1
    # End the read transaction before talking to the mail server: outside a request it is a
    # write transaction on SQLite, and holding it through slow SMTP would stall every writer.
    db.session.rollback()

    def logged(mail: Mail) -> None:
        user_id = owners[id(mail)]
        entry = db.session.get(DigestLog, user_id)
        if entry is None:
            db.session.add(DigestLog(user_id=user_id, sent_at=now))
        else:
            entry.sent_at = now
        db.session.commit()

    report.sent, report.failed = send_mails(mails, current_app.config, on_sent=logged)
    return report
