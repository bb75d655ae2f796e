"""The event subscriber: one outbox row per endpoint that wants the event, in the same transaction.

Nothing here touches the network: the rows are sent later by the delivery worker, so an event's
deliveries exist exactly when the post, answer or mention that caused it was committed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kb.db import db
from kb.models import Answer, Thread, User, utcnow
from kb.urls import external, thread_path
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint

# The events an endpoint can subscribe to ("ping" is only sent by the test button).
WEBHOOK_EVENTS = ("thread.created", "answer.created", "thread.solved", "mention.received",
                  "reply.sent")  # fmt: skip


def _isotime(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_name(user_id: object) -> str | None:
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    return user.name if user else None


def _thread_data(thread_id: int) -> dict[str, Any]:
    thread = db.session.get(Thread, thread_id)
    if thread is None:
        return {"id": thread_id}
    return {
        "id": thread.id,
        "title": thread.title,
        "url": external(thread_path(thread.id, thread.title)),
        "tags": sorted(thread.tag_names),
        "author": thread.author.name,
        "solved": thread.solved,
    }


def _answer_data(answer_id: int) -> dict[str, Any]:
    answer = db.session.get(Answer, answer_id)
    if answer is None:
        return {"id": answer_id}
    return {
        "id": answer.id,
        "url": external(thread_path(answer.thread_id, answer.thread.title, answer.id)),
        "author": answer.author.name,
    }


def _mention_data(payload: dict[str, Any]) -> dict[str, Any]:
    from kb.concierge.models import Mention
    from kb.concierge.triage import redact_private

    tweet_id, username = str(payload["tweet_id"]), payload.get("author_username") or ""
    mention = db.session.scalar(select(Mention).where(Mention.tweet_id == tweet_id))
    data: dict[str, Any] = {
        "tweet_id": tweet_id,
        "author_username": username,
        "url": f"https://x.com/{username or 'i'}/status/{tweet_id}",
    }
    if mention is not None:
        # Customers sometimes tweet account numbers or addresses: never pass those on.
        data.update(id=mention.id, text=redact_private(mention.text))
    return data


def event_data(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The `data` object of a webhook body, built from an event's payload."""
    if name == "mention.received":
        return {"mention": _mention_data(payload)}
    if name == "reply.sent":
        tweet_id = payload.get("tweet_id")
        return {
            "reply": {
                "id": payload.get("reply_id"),
                "kind": payload.get("kind"),
                "text": payload.get("text"),
                "tweet_id": tweet_id,
                "in_reply_to": payload.get("in_reply_to"),
                "url": f"https://x.com/i/status/{tweet_id}" if tweet_id else None,
            }
        }
    data: dict[str, Any] = {}
    if "thread_id" in payload:
        data["thread"] = _thread_data(payload["thread_id"])
    if payload.get("answer_id"):
        data["answer"] = _answer_data(payload["answer_id"])
    if "actor_id" in payload:
        data["actor"] = _user_name(payload["actor_id"])
    return data


def add_delivery(endpoint: WebhookEndpoint, name: str, data: dict[str, Any]) -> WebhookDelivery:
    """Add one outbox row with its final, signed-as-is body (the caller commits)."""
    now = utcnow()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id, event=name, payload="", created=now, next_attempt_at=now
    )
    db.session.add(delivery)
    db.session.flush()  # the body carries the delivery's id
    delivery.payload = json.dumps(
        {"id": delivery.id, "event": name, "created": _isotime(now), "data": data},
        separators=(",", ":"),
    )
    return delivery


def enqueue(name: str, payload: dict[str, Any]) -> None:
    """Event subscriber: an outbox row for each active endpoint subscribed to `name`."""
    if name not in WEBHOOK_EVENTS:
        return
    endpoints = [
        e
        for e in db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)))
        if name in e.events
    ]
    if not endpoints:
        return
    data = event_data(name, payload)
    for endpoint in endpoints:
        add_delivery(endpoint, name, data)
