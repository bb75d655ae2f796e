"""The outbox: events become delivery rows in the writer's own transaction."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from kb import events
from kb.concierge import service
from kb.concierge.models import Mention, Reply
from kb.db import db
from kb.models import Answer, utcnow
from kb.threads import accept_answer, post_answer
from kb.webhooks.models import WebhookDelivery
from kb.webhooks.operations import set_endpoint_active


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def body(delivery: WebhookDelivery) -> dict:
    return json.loads(delivery.payload)


def test_answer_adds_a_row_in_the_same_transaction(make_endpoint, make_thread, make_user):
    endpoint = make_endpoint("https://hooks.example/kb", events=["answer.created"])
    thread = make_thread(title="Hub 3 light is amber and nothing connects")
    assert deliveries() == []  # not subscribed to thread.created
    answer = post_answer(thread, make_user("raj"), body="Hold the power button for ten seconds.")
    [delivery] = deliveries()
    assert (delivery.endpoint_id, delivery.event, delivery.status) == (
        endpoint.id, "answer.created", "pending"
    )  # fmt: skip
    assert delivery.attempts == 0 and delivery.next_attempt_at is not None
    sent = body(delivery)
    assert sent["id"] == delivery.id and sent["event"] == "answer.created"
    assert sent["created"].endswith("Z")
    url = f"https://kb.skylark.example/t/{thread.id}/hub-3-light-is-amber-and-nothing-connects"
    assert sent["data"]["thread"]["url"] == url
    assert sent["data"]["thread"]["title"] == thread.title
    assert sent["data"]["answer"] == {
        "id": answer.id, "url": f"{url}#answer-{answer.id}", "author": "raj"
    }  # fmt: skip
    assert sent["data"]["actor"] == "raj"
    # Committed together with the answer: another connection sees both.
    db.session.rollback()  # end our read transaction (SQLite: one writer at a time)
    with db.engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(WebhookDelivery))
    assert count == 1


def test_rolled_back_answer_leaves_no_row(make_endpoint, make_thread, make_user, monkeypatch):
    make_endpoint("https://hooks.example/kb", events=["answer.created"])
    thread, author = make_thread(), make_user()

    def later_subscriber_fails(name: str, payload: dict) -> None:
        raise RuntimeError("something after the outbox went wrong")

    subscribers = {k: list(v) for k, v in events._subscribers.items()}
    subscribers["answer.created"].append(later_subscriber_fails)
    monkeypatch.setattr(events, "_subscribers", subscribers)
    with pytest.raises(RuntimeError):
        post_answer(thread, author, body="This answer never makes it to the database.")
    # The outbox row was written in the operation's transaction, so it went with it.
    assert deliveries() == []
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0


def test_only_active_endpoints_subscribed_to_the_event(
    staff, make_endpoint, make_thread, make_answer
):
    wants = make_endpoint("https://a.example/", events=["answer.created", "thread.solved"])
    make_endpoint("https://b.example/", events=["thread.created"])
    paused = make_endpoint("https://c.example/", events=["answer.created"])
    set_endpoint_active(paused, staff, False)
    thread = make_thread()
    make_answer(thread)
    rows = deliveries()
    assert [(r.endpoint.url, r.event) for r in rows] == [
        ("https://b.example/", "thread.created"),
        ("https://a.example/", "answer.created"),
    ]
    assert {r.endpoint_id for r in rows} == {wants.id, rows[0].endpoint_id}


def test_thread_created_and_solved(make_endpoint, make_thread, make_user, make_answer):
    make_endpoint("https://a.example/", events=["thread.created", "thread.solved"])
    asker = make_user("kim")
    thread = make_thread(author=asker, tags=("wifi", "hub-3"))
    answer = make_answer(thread)
    accept_answer(thread, answer, asker)
    created, solved = (body(d) for d in deliveries())
    assert created["event"] == "thread.created"
    assert created["data"]["thread"]["tags"] == ["hub-3", "wifi"]
    assert created["data"]["thread"]["author"] == "kim"
    assert solved["event"] == "thread.solved"
    assert solved["data"]["thread"]["solved"] is True
    assert solved["data"]["answer"]["id"] == answer.id and solved["data"]["actor"] == "kim"


def test_mention_received_and_reply_sent(make_endpoint):
    make_endpoint("https://a.example/", events=["mention.received", "reply.sent"])
    tweet = SimpleNamespace(
        id="1900000000000000042", author_id="7001", author_username="dana",
        text="@SkylarkHelps my hub is amber, my account is 12345678, help?",
        created_at=utcnow() - timedelta(minutes=2), conversation_id="1900000000000000042",
        in_reply_to_id=None, is_repost=False, lang="en",
    )  # fmt: skip
    assert service.store_mentions([tweet], None) == 1
    [received] = deliveries()
    data = body(received)["data"]["mention"]
    assert data["tweet_id"] == tweet.id and data["author_username"] == "dana"
    assert data["url"] == f"https://x.com/dana/status/{tweet.id}"
    assert "12345678" not in data["text"] and "[redacted]" in data["text"]
    mention = db.session.scalar(select(Mention))
    reply = Reply(mention_id=mention.id, kind="answer", text="Try this: https://kb/s/abc")
    db.session.add(reply)
    db.session.commit()
    service.mark_sent(reply, "1900000000000000099")
    sent = body(deliveries()[-1])
    assert sent["event"] == "reply.sent"
    assert sent["data"]["reply"] == {
        "id": reply.id, "kind": "answer", "text": "Try this: https://kb/s/abc",
        "tweet_id": "1900000000000000099", "in_reply_to": tweet.id,
        "url": "https://x.com/i/status/1900000000000000099",
    }  # fmt: skip


def test_no_endpoints_no_rows(make_thread, make_answer):
    make_answer(make_thread())
    assert deliveries() == []
