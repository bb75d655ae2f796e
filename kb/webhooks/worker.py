"""The delivery worker: claim due outbox rows, POST them signed, record the answer, back off.

The only module here that talks to the network. No transaction is open while a request is in
flight: a row is claimed (its next_attempt_at pushed forward as a lease) and committed first, so
two workers never send the same row at once and a crashed worker's row comes due again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from flask import Flask, current_app
from sqlalchemy import select, update

from kb.db import db
from kb.models import utcnow
from kb.webhooks.destinations import Blocked, check_resolved
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint
from kb.webhooks.signing import sign

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
RETRY_FOR = timedelta(hours=24)
# Longer than the worst connect + read time, so a live worker never loses its lease.
LEASE = timedelta(minutes=2)
RESPONSE_LIMIT = 2048
USER_AGENT = "ConciergeKB-Webhooks/1"
PASS_LIMIT = 100


@dataclass(frozen=True)
class Job:
    """A claimed delivery, as plain values (nothing lazy-loads while the request is out)."""

    id: int
    endpoint_id: int
    url: str
    secret: str
    event: str
    body: str


@dataclass(frozen=True)
class Outcome:
    """What one attempt got back: a status code and the start of the body, or an error."""

    status_code: int | None
    response: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        """Any 2xx answer counts as delivered."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Stats:
    """What one pass did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try: 30 s doubling per attempt, capped at 1 h, with ±20% jitter."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return min(MAX_RETRY_SECONDS, base * (0.8 + 0.4 * rand()))


def claim_next(now: datetime, skip: set[int] | frozenset[int] = frozenset()) -> Job | None:
    """Lease the next due delivery of an active endpoint and commit; None when nothing is due."""
    candidates = db.session.execute(
        select(WebhookDelivery.id)
        .join(WebhookEndpoint)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
            WebhookDelivery.endpoint_id.not_in(skip),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(10)
    ).scalars()
    for delivery_id in list(candidates):
        claimed = db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(
                next_attempt_at=now + LEASE,
                last_attempt_at=now,
                attempts=WebhookDelivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            row = db.session.execute(
                select(
                    WebhookDelivery.endpoint_id, WebhookEndpoint.url, WebhookEndpoint.secret,
                    WebhookDelivery.event, WebhookDelivery.payload,
                )
                .join(WebhookEndpoint)
                .where(WebhookDelivery.id == delivery_id)
            ).one()  # fmt: skip
            db.session.commit()
            return Job(delivery_id, *row)
    db.session.rollback()
    return None


def _read_start(response: requests.Response) -> str:
    try:
        head = response.raw.read(RESPONSE_LIMIT, decode_content=True) or b""
    except Exception as err:  # the status arrived; a broken body must not lose it
        return f"(the response body could not be read: {type(err).__name__})"
    return head.decode("utf-8", errors="replace")


def send(
    job: Job, connect_timeout: float, read_timeout: float, allow_private: bool = False
) -> Outcome:
    """POST the signed body once; redirects are not followed, private addresses refused."""
    if not allow_private:
        try:
            check_resolved(job.url)
        except Blocked as err:
            return Outcome(None, error=f"refused: {err} (KB_WEBHOOK_ALLOW_PRIVATE is off)")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-KB-Event": job.event,
        "X-KB-Delivery": str(job.id),
        "X-KB-Timestamp": timestamp,
        "X-KB-Signature": sign(job.secret, timestamp, job.body),
    }
    try:
        with requests.post(
            job.url, data=job.body.encode(), headers=headers, allow_redirects=False,
            timeout=(connect_timeout, read_timeout), stream=True,
        ) as response:  # fmt: skip
            text = _read_start(response)
            code = response.status_code
    except requests.Timeout:
        limits = f"connect {connect_timeout:g} s, read {read_timeout:g} s"
        return Outcome(None, error=f"timed out ({limits})")
    except requests.ConnectionError as err:
        return Outcome(None, error=f"connection failed: {err}"[:500])
    except requests.RequestException as err:
        return Outcome(None, error=f"{type(err).__name__}: {err}"[:500])
    if 300 <= code < 400:
        return Outcome(code, text, f"HTTP {code}: redirects are not followed")
    return Outcome(code, text, "" if 200 <= code < 300 else f"HTTP {code}")


def record(job: Job, outcome: Outcome, now: datetime) -> str:
    """Store an attempt's outcome; returns the delivery's new status."""
    delivery = db.session.get(WebhookDelivery, job.id)
    if delivery is None:  # the endpoint was deleted while we were sending
        db.session.rollback()
        return "deleted"
    delivery.last_status_code = outcome.status_code
    delivery.last_response = outcome.response[:RESPONSE_LIMIT]
    delivery.last_error = outcome.error
    if outcome.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
    else:
        retry_at = now + timedelta(seconds=backoff(delivery.attempts))
        if retry_at > delivery.created + RETRY_FOR:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = retry_at
    status = delivery.status
    db.session.commit()
    return status


def run_once(now: datetime | None = None, limit: int = PASS_LIMIT) -> Stats:
    """Send up to `limit` due deliveries (`now` fixes the clock, for tests)."""
    config = current_app.config
    timeouts = float(config["WEBHOOK_CONNECT_TIMEOUT"]), float(config["WEBHOOK_READ_TIMEOUT"])
    stats = Stats()
    unreachable: set[int] = set()  # endpoints that did not answer: skip them for this pass
    for _ in range(limit):
        job = claim_next(now or utcnow(), unreachable)
        if job is None:
            break
        outcome = send(job, *timeouts, allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]))
        status = record(job, outcome, now or utcnow())
        stats.attempted += 1
        if outcome.status_code is None:
            unreachable.add(job.endpoint_id)
        if status == "delivered":
            stats.delivered += 1
            continue
        if status == "failed":
            stats.failed += 1
        elif status == "pending":
            stats.retrying += 1
        stats.errors.append(f"delivery {job.id} to {job.url}: {outcome.error}")
        log.info("webhook delivery %s (%s) -> %s %s", job.id, job.event, status, outcome.error)
    return stats


def run(stop: threading.Event, poll_seconds: float) -> None:
    """Deliver until `stop` is set, checking for due rows every `poll_seconds`."""
    while not stop.is_set():
        busy = False
        try:
            busy = run_once(limit=PASS_LIMIT).attempted >= PASS_LIMIT
        except Exception:  # keep the loop alive; the next pass starts from the database
            log.exception("webhook pass failed")
            db.session.rollback()
        finally:
            db.session.remove()
        if not busy:
            stop.wait(poll_seconds)


def start_thread(app: Flask, stop: threading.Event | None = None) -> threading.Thread:
    """Run the worker inside the web process (the demo: `kb serve --demo-concierge`)."""
    stop = stop or threading.Event()

    def loop() -> None:
        with app.app_context():
            run(stop, float(current_app.config["WEBHOOK_POLL_SECONDS"]))

    thread = threading.Thread(target=loop, name="kb-webhooks", daemon=True)
    thread.start()
    return thread
