"""Concierge operations on the database: store mentions, decide, draft, approve, send state.

Every decision is stored with its reason. Replies move draft -> approved -> sending -> sent;
"sending" is committed before the API call, so a crash can be reconciled, never re-sent blindly.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from kb.concierge import triage as rules
from kb.concierge.cleaning import title_from_tweet
from kb.concierge.compose import compose_reply, dm_link, tweet_length
from kb.concierge.matching import clean, match_mention, slang_table
from kb.concierge.models import (
    ConciergeState,
    LinkSuggestion,
    Mention,
    Reply,
    Suppression,
)
from kb.db import atomic, db
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.events import emit
from kb.models import Answer, Thread, User, utcnow
from kb.shortlinks import MAX_DB_ID, create_reply_link
from kb.urls import article_path, thread_path

ACTIVE_STATES = ("draft", "approved", "sending", "sent")
CURSOR = "since_id"


# ----- small persistent state ---------------------------------------------------------------


def get_state(key: str, default: str = "") -> str:
    """A stored concierge value."""
    row = db.session.get(ConciergeState, key)
    return row.value if row else default


def set_state(key: str, value: str) -> None:
    """Store a concierge value in the caller's transaction."""
    row = db.session.get(ConciergeState, key)
    if row is None:
        db.session.add(ConciergeState(key=key, value=value))
    else:
        row.value = value


# ----- ingesting mentions -------------------------------------------------------------------


def store_mentions(mentions: Iterable[Any], newest_id: str | None) -> int:
    """Save new mentions and advance the cursor in one transaction; returns how many are new."""
    items = {m.id: m for m in mentions}
    known = set()
    ids = list(items)
    for start in range(0, len(ids), 500):
        known.update(
            db.session.scalars(
                select(Mention.tweet_id).where(Mention.tweet_id.in_(ids[start : start + 500]))
            )
        )
    added = 0
    for tweet_id in sorted(set(items) - known, key=int):
        m = items[tweet_id]
        db.session.add(
            Mention(
                tweet_id=m.id, author_id=m.author_id, author_username=m.author_username or "",
                text=m.text, created_at=m.created_at, conversation_id=m.conversation_id,
                in_reply_to_id=m.in_reply_to_id, is_repost=m.is_repost, lang=m.lang,
            )
        )  # fmt: skip
        added += 1
        db.session.flush()
        emit("mention.received", {"tweet_id": m.id, "author_username": m.author_username or ""})
    candidates = [newest_id] if newest_id else []
    candidates += list(items)
    current = get_state(CURSOR)
    if current:
        candidates.append(current)
    if candidates:
        set_state(CURSOR, max(candidates, key=int))
    db.session.commit()
    return added


# ----- deciding -----------------------------------------------------------------------------


def _replied_conversations(mention: Mention) -> set[str]:
    refs = {r for r in (mention.conversation_id, mention.in_reply_to_id) if r}
    if not refs:
        return set()
    found: set[str] = set()
    rows = db.session.execute(
        select(Mention.conversation_id, Mention.tweet_id)
        .join(Reply, Reply.mention_id == Mention.id)
        .where(
            Reply.state.in_(("approved", "sending", "sent")),
            Mention.id != mention.id,
            or_(Mention.conversation_id.in_(refs), Mention.tweet_id.in_(refs)),
        )
    )
    for conversation_id, tweet_id in rows:
        found.update(r for r in (conversation_id, tweet_id) if r in refs)
    ours = db.session.scalars(select(Reply.tweet_id).where(Reply.tweet_id.in_(refs)))
    found.update(t for t in ours if t)
    return found


def _is_automated(username: str) -> bool:
    bots = {h.strip().lower() for h in current_app.config["CONCIERGE_BOT_HANDLES"].split(",")}
    name = username.lower()
    return name in bots or name.endswith("bot") or name.endswith("_bot")


def _previous_text() -> str | None:
    return db.session.scalar(select(Reply.text).order_by(Reply.id.desc()).limit(1))


def _reply_url(code: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/s/{code}"


def _target_path(hit: dict[str, Any]) -> str:
    if hit["kind"] == "article":
        return article_path(hit["key"])
    thread = db.session.get(Thread, hit["id"])
    if thread is None:
        return thread_path(hit["id"], hit["title"])
    return thread_path(thread.id, thread.title, thread.accepted_answer_id)


def _autosend(kind: str, confidence: float | None) -> bool:
    config = current_app.config
    if not config["CONCIERGE_AUTOSEND"] or kind not in ("answer", "follow_up"):
        return False
    return (confidence or 0.0) >= float(config["CONCIERGE_AUTOSEND_THRESHOLD"])


def draft_reply(
    mention: Mention,
    *,
    kind: str,
    topic: str,
    target_path: str | None,
    confidence: float | None,
    purpose: str = "reply",
    account_id: str | None = None,
) -> Reply:
    """Compose and store a reply (with its own short link) in the caller's transaction."""
    code = create_reply_link(target_path, mention.id) if target_path else None
    url = _reply_url(code) if code else dm_link(account_id or get_state("account_id") or "0")
    handle = mention.author_username  # decide_mention never drafts for a mention without one
    text = compose_reply(
        handle=handle, kind=kind, topic=topic, url=url, seed=mention.id, previous=_previous_text()
    )
    auto = _autosend(kind, confidence)
    reply = Reply(
        mention_id=mention.id, purpose=purpose, kind=kind, text=text, short_code=code,
        confidence=confidence, state="approved" if auto else "draft", auto=auto,
        approved_at=utcnow() if auto else None,
    )  # fmt: skip
    db.session.add(reply)
    return reply


@atomic
def decide_mention(mention: Mention, account_id: str, account_username: str) -> Mention:
    """Triage one mention, match it, draft the reply if any; stores the decision and reason."""
    cleaned = clean(mention.text, account_username)
    suppressed = set(
        db.session.scalars(
            select(Suppression.author_id).where(Suppression.author_id == mention.author_id)
        )
    )
    facts = rules.MentionFacts(
        text=mention.text, author_id=mention.author_id, author_username=mention.author_username,
        account_id=account_id, account_username=account_username, is_repost=mention.is_repost,
        is_from_automated_account=_is_automated(mention.author_username),
        conversation_id=mention.conversation_id, in_reply_to_id=mention.in_reply_to_id,
    )  # fmt: skip
    decision = rules.triage(
        facts, suppressed=suppressed, replied_conversations=_replied_conversations(mention),
        cleaned_text=cleaned,
    )  # fmt: skip
    if not mention.author_username and decision.kind in (rules.HELP, rules.PRIVATE):
        # A reply must start with the customer's handle; without one we could tag a stranger.
        decision = rules.Decision(rules.IGNORE, "no author handle in X's payload")
    mention.decision, mention.reason, mention.cleaned = decision.kind, decision.reason, cleaned
    mention.decided_at = utcnow()
    if decision.kind == rules.OPT_OUT and not suppressed:
        db.session.add(
            Suppression(author_id=mention.author_id, author_username=mention.author_username)
        )
    elif decision.kind == rules.OPT_IN:
        db.session.execute(delete(Suppression).where(Suppression.author_id == mention.author_id))
    elif decision.kind == rules.PRIVATE:
        draft_reply(
            mention, kind="private", topic="", target_path=None, confidence=None,
            account_id=account_id,
        )  # fmt: skip
    elif decision.kind == rules.HELP:
        result = match_mention(cleaned)
        mention.confidence = result.confidence
        if result.hit is not None:
            hit = result.hit
            mention.matched_kind, mention.matched_id, mention.matched_title = (
                hit["kind"],
                hit["id"],
                hit["title"],
            )
            draft_reply(
                mention, kind="answer", topic=hit["title"], target_path=_target_path(hit),
                confidence=result.confidence,
            )  # fmt: skip
        else:
            from kb.gaps import record_gap

            mention.unanswered = True
            record_gap(cleaned, "mention")
            title = title_from_tweet(
                mention.text, account_handle=account_username, slang=slang_table()
            )
            path = "/ask?" + urlencode({"title": title[:150], "mention": mention.id})
            draft_reply(
                mention,
                kind="ask_community",
                topic=title,
                target_path=path,
                confidence=result.confidence,
            )
    db.session.commit()
    return mention


def decide_pending(account_id: str, account_username: str, limit: int = 1000) -> int:
    """Decide every mention that has not been triaged yet, oldest first."""
    done = 0
    while done < limit:
        mention = db.session.scalar(
            select(Mention).where(Mention.decision == "new").order_by(Mention.id).limit(1)
        )
        if mention is None:
            break
        decide_mention(mention, account_id, account_username)
        done += 1
    return done


# ----- staff actions ------------------------------------------------------------------------


def _staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only staff can manage concierge replies.")


@atomic
def approve_reply(reply: Reply, staff: User, text: str | None = None) -> Reply:
    """Approve a draft (optionally edited; the length is checked again) for sending."""
    _staff(staff)
    if reply.state not in ("draft", "failed"):
        raise ValidationError("Only drafts can be approved.", "state")
    if text is not None:
        text = " ".join(text.split())
        if not text:
            raise ValidationError("A reply needs some text.", "text")
        handle = f"@{reply.mention.author_username}"
        if reply.mention.author_username and not text.startswith(handle):
            raise ValidationError(f"A reply starts with {handle}.", "text")
        length = tweet_length(text)
        if length > 280:
            raise ValidationError(
                f"That is {length} characters as X counts them; the limit is 280.", "text"
            )
        reply.text = text
    reply.state, reply.approved_by_id, reply.approved_at = "approved", staff.id, utcnow()
    reply.error, reply.next_attempt_at = "", None
    db.session.commit()
    return reply


@atomic
def reject_reply(reply: Reply, staff: User) -> Reply:
    """Reject a draft: nothing will be sent."""
    _staff(staff)
    if reply.state not in ("draft", "approved", "failed"):
        raise ValidationError("This reply can no longer be rejected.", "state")
    reply.state = "rejected"
    db.session.commit()
    return reply


@atomic
def suggest_link(mention: Mention, user: User, *, target: str) -> LinkSuggestion:
    """A community member suggests an existing thread or answer for an unanswered mention."""
    if not mention.unanswered:
        raise ValidationError("This mention already has an answer.", "target")
    kind, db_id = parse_target(target)
    exists = db.session.scalar(
        select(LinkSuggestion.id).where(
            LinkSuggestion.mention_id == mention.id, LinkSuggestion.user_id == user.id,
            LinkSuggestion.target_kind == kind, LinkSuggestion.target_id == db_id,
        )
    )  # fmt: skip
    if exists:
        raise ValidationError("You already suggested that link.", "target")
    suggestion = LinkSuggestion(
        mention_id=mention.id, user_id=user.id, target_kind=kind, target_id=db_id
    )
    db.session.add(suggestion)
    db.session.commit()
    return suggestion


def parse_target(target: str) -> tuple[str, int]:
    """A thread or answer from a pasted URL (/t/12/..., #answer-34) or a short link."""
    import re

    text = (target or "").strip()
    if not _on_this_site(text):
        raise ValidationError("Paste a link to a thread or an answer on this site.", "target")
    answer = re.search(r"#answer-(\d{1,18})\b", text)
    thread = re.search(r"/t/(\d{1,18})(?:/|$|#|\?)", text)
    short = re.search(r"/s/([at][0-9A-Za-z]{1,10})\b", text)
    if answer:
        kind, db_id = "answer", int(answer.group(1))
    elif thread:
        kind, db_id = "thread", int(thread.group(1))
    elif short:
        from kb.shortlinks import from_base62

        kind = "answer" if short.group(1)[0] == "a" else "thread"
        db_id = from_base62(short.group(1)[1:]) or 0
    else:
        raise ValidationError("Paste a link to a thread or an answer on this site.", "target")
    model = Answer if kind == "answer" else Thread
    row = db.session.get(model, db_id) if 0 < db_id <= MAX_DB_ID else None
    if row is None or row.hidden:
        raise ValidationError("That thread or answer does not exist.", "target")
    return kind, db_id


def _on_this_site(text: str) -> bool:
    """One link or path, and if it names a host, this site's (https://evil.com/t/1 is not ours)."""
    if not text or any(c.isspace() or ord(c) < 32 for c in text) or "\\" in text:
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    if parts.scheme not in ("", "http", "https"):
        return False
    if not parts.scheme and not parts.netloc and not text.startswith("//"):
        return True
    site = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    return bool(parts.hostname) and parts.hostname == site.hostname


@atomic
def approve_suggestion(suggestion: LinkSuggestion, staff: User) -> Reply:
    """Turn a community suggestion into the mention's reply (a draft for staff to send)."""
    _staff(staff)
    if suggestion.status != "open":
        raise ValidationError("This suggestion was already handled.", "state")
    mention = suggestion.mention
    if suggestion.target_kind == "answer":
        answer = db.session.get(Answer, suggestion.target_id)
        if answer is None:
            raise NotFound("That answer no longer exists.")
        thread, anchor = answer.thread, answer.id
    else:
        thread = db.session.get(Thread, suggestion.target_id)
        if thread is None:
            raise NotFound("That thread no longer exists.")
        anchor = thread.accepted_answer_id
    path = thread_path(thread.id, thread.title, anchor)
    current = next((r for r in mention.replies if r.purpose == "reply"), None)
    if current is not None and current.state in ("draft", "failed", "rejected"):
        db.session.delete(current)
        db.session.flush()
        purpose = "reply"
    elif current is None:
        purpose = "reply"
    else:
        purpose = "follow_up"
        if any(r.purpose == "follow_up" for r in mention.replies):
            raise ValidationError("This mention already has a follow-up.", "state")
    reply = draft_reply(
        mention, kind="answer" if purpose == "reply" else "follow_up", topic=thread.title,
        target_path=path, confidence=None, purpose=purpose,
    )  # fmt: skip
    reply.state, reply.auto = "draft", False
    suggestion.status = "approved"
    mention.unanswered = False
    mention.matched_kind, mention.matched_id, mention.matched_title = (
        "thread",
        thread.id,
        thread.title,
    )
    db.session.commit()
    return reply


def link_thread_to_mention(thread: Thread, mention_id: int) -> None:
    """Remember that a thread was asked from a mention's 'ask the community' link."""
    mention = db.session.get(Mention, mention_id)
    if mention is not None and mention.thread_id is None:
        mention.thread_id = thread.id
        db.session.commit()


def on_thread_solved(thread: Thread) -> None:
    """Draft one follow-up reply for the mention that led to this thread (caller commits)."""
    for mention in db.session.scalars(select(Mention).where(Mention.thread_id == thread.id)):
        if any(r.purpose == "follow_up" for r in mention.replies):
            continue
        path = thread_path(thread.id, thread.title, thread.accepted_answer_id)
        reply = draft_reply(
            mention, kind="follow_up", topic=thread.title, target_path=path, confidence=None,
            purpose="follow_up",
        )  # fmt: skip
        reply.state, reply.auto = "draft", False


# ----- sending state ------------------------------------------------------------------------


def _hour_ago() -> Any:
    return utcnow() - timedelta(hours=1)


def within_budget(reply: Reply) -> bool:
    """Per-author and overall hourly reply budgets."""
    config = current_app.config
    since = _hour_ago()
    total = (
        db.session.scalar(
            select(func.count(Reply.id)).where(
                Reply.state.in_(("sent", "sending")), Reply.sent_at >= since
            )
        )
        or 0
    )
    if total >= int(config["CONCIERGE_HOURLY_BUDGET"]):
        return False
    per_author = db.session.scalar(
        select(func.count(Reply.id))
        .join(Mention, Mention.id == Reply.mention_id)
        .where(
            Reply.state.in_(("sent", "sending")), Reply.sent_at >= since,
            Mention.author_id == reply.mention.author_id,
        )
    ) or 0  # fmt: skip
    return per_author < int(config["CONCIERGE_AUTHOR_HOURLY_BUDGET"])


def claim_next() -> Reply | None:
    """Mark the next approved reply as sending (committed before any API call)."""
    now = utcnow()
    candidates = db.session.execute(
        select(Reply, Mention.author_id)
        .join(Mention, Mention.id == Reply.mention_id)
        .where(
            Reply.state == "approved",
            or_(Reply.next_attempt_at.is_(None), Reply.next_attempt_at <= now),
        )
        .order_by(Reply.id)
    ).all()
    # Look past every reply whose author is over budget: one busy author must not hold up
    # everyone queued behind them. Each author's budget is checked once per call.
    over_budget: set[str] = set()
    for reply, author_id in candidates:
        if author_id in over_budget:
            continue
        if not within_budget(reply):
            over_budget.add(author_id)
            continue
        claimed = db.session.execute(
            update(Reply)
            .where(Reply.id == reply.id, Reply.state == "approved")
            .values(state="sending", sending_at=now, sent_at=now, attempts=Reply.attempts + 1)
        ).rowcount
        db.session.commit()
        if claimed:
            db.session.refresh(reply)
            return reply
    db.session.rollback()
    return None


def mark_sent(reply: Reply, tweet_id: str | None) -> None:
    """The reply is on X."""
    reply.state, reply.tweet_id, reply.sent_at, reply.error = "sent", tweet_id, utcnow(), ""
    emit(
        "reply.sent",
        {"reply_id": reply.id, "tweet_id": tweet_id, "in_reply_to": reply.mention.tweet_id,
         "kind": reply.kind, "text": reply.text},
    )  # fmt: skip
    db.session.commit()


def mark_retry(reply: Reply, error: str, delay: float | None = None) -> None:
    """Back to approved, to be tried again after a capped, jittered backoff."""
    if delay is None:
        delay = min(300.0, 2.0 ** min(reply.attempts, 8)) * random.uniform(0.5, 1.0)
    reply.state, reply.error = "approved", error[:500]
    reply.sent_at = None
    reply.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.session.commit()


def mark_failed(reply: Reply, error: str) -> None:
    """X refused the reply for good (e.g. the post no longer mentions us)."""
    reply.state, reply.error, reply.sent_at = "failed", error[:500], None
    db.session.commit()


def sending_replies() -> list[Reply]:
    """Replies a crash may have left between 'sending' and 'sent'."""
    return list(
        db.session.scalars(select(Reply).where(Reply.state == "sending").order_by(Reply.id))
    )
