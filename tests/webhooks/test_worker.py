"""The delivery worker against real HTTP receivers on loopback: signing, retries, expiry, leases."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from kb.db import db
from kb.models import utcnow
from kb.webhooks import worker
from kb.webhooks.models import WebhookDelivery
from kb.webhooks.operations import send_ping, set_endpoint_active
from kb.webhooks.signing import verify


def only_delivery() -> WebhookDelivery:
    [delivery] = db.session.scalars(select(WebhookDelivery)).all()
    return delivery


def test_delivers_a_signed_body(receiver, make_endpoint, make_thread, make_answer):
    endpoint = make_endpoint(receiver.url, events=["answer.created"])
    answer = make_answer(make_thread())
    stats = worker.run_once()
    assert (stats.attempted, stats.delivered) == (1, 1)
    [got] = receiver.requests
    delivery = only_delivery()
    assert got.path == "/hook" and got.body == delivery.payload
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-KB-Event"] == "answer.created"
    assert got.headers["X-KB-Delivery"] == str(delivery.id)
    timestamp = got.headers["X-KB-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    # What a receiver does: HMAC-SHA256 over "<timestamp>.<body>" with the secret.
    expected = hmac.new(
        endpoint.secret.encode(), f"{timestamp}.{got.body}".encode(), hashlib.sha256
    ).hexdigest()
    assert got.headers["X-KB-Signature"] == f"sha256={expected}"
    assert verify(endpoint.secret, timestamp, got.body, got.headers["X-KB-Signature"],
                  time.time())  # fmt: skip
    assert not verify("whsec_wrong", timestamp, got.body, got.headers["X-KB-Signature"],
                      time.time())  # fmt: skip
    assert json.loads(got.body)["data"]["answer"]["id"] == answer.id
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert (delivery.last_status_code, delivery.last_response) == (200, "ok")
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert worker.run_once().attempted == 0  # never sent twice


def test_fails_twice_then_recovers_with_backoff(receiver, make_endpoint, staff):
    receiver.respond(500, "boom").respond(503, "down for maintenance").respond(204)
    endpoint = make_endpoint(receiver.url)
    send_ping(endpoint, staff)
    start = utcnow()

    assert worker.run_once(now=start).retrying == 1
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_response == "boom" and delivery.last_error == "HTTP 500"
    first_wait = (delivery.next_attempt_at - start).total_seconds()
    assert 24 <= first_wait <= 36  # 30 s, with jitter
    assert worker.run_once(now=start + timedelta(seconds=20)).attempted == 0  # not due yet

    second = delivery.next_attempt_at
    assert worker.run_once(now=second).retrying == 1
    db.session.refresh(delivery)
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    assert 48 <= (delivery.next_attempt_at - second).total_seconds() <= 72  # doubled

    assert worker.run_once(now=delivery.next_attempt_at).delivered == 1
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
    assert delivery.last_error == ""
    # The same delivery each time: one id and one body, freshly timestamped and signed.
    assert {r.headers["X-KB-Delivery"] for r in receiver.requests} == {str(delivery.id)}
    assert {r.body for r in receiver.requests} == {delivery.payload}


@pytest.mark.parametrize(
    ("attempts", "rand", "seconds"),
    [(1, 0.5, 30), (2, 0.5, 60), (3, 0.5, 120), (4, 0.5, 240), (8, 0.5, 3600), (30, 0.5, 3600),
     (1, 0.0, 24), (1, 1.0, 36), (9, 1.0, 3600)],
)  # fmt: skip
def test_backoff(attempts: int, rand: float, seconds: float) -> None:
    assert worker.backoff(attempts, rand=lambda: rand) == pytest.approx(seconds)


def test_gives_up_a_day_after_creation(receiver, make_endpoint, staff):
    receiver.default = (500, "still broken", 0.0, {})
    send_ping(make_endpoint(receiver.url), staff)
    delivery = only_delivery()
    created = delivery.created
    worker.run_once(now=created + timedelta(hours=20))
    db.session.refresh(delivery)
    assert delivery.status == "pending"  # 20 h + 30 s is still within the day
    # The next wait (about a minute) would end past the day: this was the last attempt.
    assert worker.run_once(now=created + timedelta(hours=24, seconds=-10)).failed == 1
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert worker.run_once(now=created + timedelta(days=3)).attempted == 0


def test_a_slow_receiver_costs_only_its_timeout(app, make_receiver, make_endpoint, staff):
    app.config.update(WEBHOOK_CONNECT_TIMEOUT=1.0, WEBHOOK_READ_TIMEOUT=0.5)
    slow, fast = make_receiver(), make_receiver()
    slow.default = (200, "too late", 30.0, {})
    slow_endpoint, fast_endpoint = make_endpoint(slow.url), make_endpoint(fast.url)
    for _ in range(3):
        send_ping(slow_endpoint, staff)
    send_ping(fast_endpoint, staff)
    started = time.monotonic()
    stats = worker.run_once()
    assert time.monotonic() - started < 3.0
    # One timeout, then the slow endpoint is skipped for the rest of the pass.
    assert (stats.attempted, stats.delivered, stats.retrying) == (2, 1, 1)
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    timed_out = next(r for r in rows if r.attempts)
    assert timed_out.endpoint_id == slow_endpoint.id and timed_out.status == "pending"
    assert "timed out" in timed_out.last_error and timed_out.last_status_code is None
    assert [r.status for r in rows if r.endpoint_id == fast_endpoint.id] == ["delivered"]


def test_redirects_are_not_followed(receiver, make_endpoint, staff):
    receiver.respond(302, "", Location=receiver.url + "/elsewhere")
    send_ping(make_endpoint(receiver.url), staff)
    assert worker.run_once().retrying == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    delivery = only_delivery()
    assert delivery.last_status_code == 302 and "redirects are not followed" in delivery.last_error


def test_connection_refused_is_retried(make_endpoint, staff):
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    send_ping(make_endpoint(url), staff)
    assert worker.run_once().retrying == 1
    delivery = only_delivery()
    assert delivery.status == "pending" and delivery.last_error.startswith("connection failed")


def test_response_is_logged_up_to_2_kb(receiver, make_endpoint, staff):
    receiver.respond(400, "x" * 5000)
    send_ping(make_endpoint(receiver.url), staff)
    worker.run_once()
    delivery = only_delivery()
    assert delivery.last_status_code == 400 and delivery.last_response == "x" * 2048


def test_paused_endpoint_holds_its_deliveries(receiver, make_endpoint, staff):
    endpoint = make_endpoint(receiver.url)
    send_ping(endpoint, staff)
    set_endpoint_active(endpoint, staff, False)
    assert worker.run_once().attempted == 0 and receiver.requests == []
    set_endpoint_active(endpoint, staff, True)
    assert worker.run_once().delivered == 1


def test_a_claimed_row_is_leased(receiver, make_endpoint, staff):
    send_ping(make_endpoint(receiver.url), staff)
    now = utcnow()
    job = worker.claim_next(now)
    assert job is not None and worker.claim_next(now) is None  # another worker gets nothing
    # The worker that claimed it died before recording anything: the lease runs out.
    assert worker.run_once(now=now + timedelta(seconds=30)).attempted == 0
    assert worker.run_once(now=now + worker.LEASE + timedelta(seconds=1)).delivered == 1
    assert only_delivery().attempts == 2 and len(receiver.requests) == 1


def test_two_workers_never_send_a_delivery_twice(app, receiver, make_endpoint, staff):
    receiver.default = (200, "ok", 0.01, {})
    endpoint = make_endpoint(receiver.url)
    for _ in range(20):
        send_ping(endpoint, staff)
    db.session.remove()
    results: list[int] = []

    def work() -> None:
        with app.app_context():
            results.append(worker.run_once().delivered)
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(results) == 20
    ids = [r.headers["X-KB-Delivery"] for r in receiver.requests]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_background_thread_delivers_until_stopped(app, receiver, make_endpoint, staff):
    app.config["WEBHOOK_POLL_SECONDS"] = 0.05
    send_ping(make_endpoint(receiver.url), staff)
    db.session.remove()
    stop = threading.Event()
    thread = worker.start_thread(app, stop)
    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and len(receiver.requests) == 1
