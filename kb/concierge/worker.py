"""The concierge loop: reconcile, poll mentions, decide, send approved replies.

Exactly once: a mention id is unique; a reply is committed as "sending" before the API call
and as "sent" after; at start, "sending" replies are reconciled against the account's posts
before anything is retried. 429 waits for the reset time; 5xx and timeouts back off.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from kb.concierge import service
from kb.concierge.models import Reply
from kb.concierge.x_api import (
    XDuplicate,
    XError,
    XForbidden,
    XGateway,
    XRateLimited,
    XTransient,
)
from kb.db import db

log = logging.getLogger(__name__)
MAX_PAGES = 8  # X serves only the newest 800 mentions
RATE_LIMIT_FALLBACK = 60.0  # a 429 without a reset header waits this long (bounded)
MAX_WAIT = 15 * 60.0
DECIDE_BATCH = 50  # mentions decided between two sending rounds
DECIDE_LIMIT = 1000  # mentions decided per pass


@dataclass
class Stats:
    """What one pass did."""

    fetched: int = 0
    decided: int = 0
    sent: int = 0
    reconciled: int = 0
    errors: list[str] = field(default_factory=list)


def _end_transaction() -> None:
    """End the open transaction before calling X: with SQLite it holds the one write lock."""
    db.session.commit()


def _other_posts(reply: Reply) -> frozenset[str]:
    """Our posts already recorded for the reply's mention (a follow-up is not the first reply)."""
    return frozenset(r.tweet_id for r in reply.mention.replies if r.id != reply.id and r.tweet_id)


def gateway_from_config(config: dict[str, Any]) -> XGateway:
    """An X gateway from the KB_X_* settings."""
    return XGateway(
        config["X_API_KEY"], config["X_API_SECRET"], config["X_ACCESS_TOKEN"],
        config["X_ACCESS_SECRET"], base_url=config["X_API_BASE"] or None,
        timeout=(float(config["X_CONNECT_TIMEOUT"]), float(config["X_READ_TIMEOUT"])),
    )  # fmt: skip


class Worker:
    """One concierge worker; run it in one process at a time."""

    def __init__(self, gateway: XGateway) -> None:
        self.gateway = gateway
        self.paused_until = 0.0
        self.send_paused_until = 0.0
        self.failures = 0
        self.account_id = ""
        self.account_username = ""

    # ----- pieces --------------------------------------------------------------------------

    def _wait_for(self, err: XRateLimited) -> float:
        if err.reset_at is None:
            return RATE_LIMIT_FALLBACK
        return max(1.0, min(MAX_WAIT, err.reset_at - time.time() + 1.0))

    def _backoff(self) -> float:
        self.failures += 1
        return min(120.0, 2.0 ** min(self.failures, 7)) * random.uniform(0.5, 1.0)

    def ensure_account(self) -> None:
        """Learn (once) which account we are."""
        if self.account_id:
            return
        stored = service.get_state("account_id"), service.get_state("account_username")
        if all(stored):
            self.account_id, self.account_username = stored
            return
        me = self.gateway.get_me()
        self.account_id, self.account_username = me.id, me.username
        service.set_state("account_id", me.id)
        service.set_state("account_username", me.username)
        db.session.commit()

    def reconcile(self) -> int:
        """Settle replies left 'sending' by a crash: sent if X has them, else retry."""
        done = 0
        for reply in service.sending_replies():
            tweet_id, known = reply.mention.tweet_id, _other_posts(reply)
            _end_transaction()
            found = self.gateway.find_reply_to(self.account_id, tweet_id, exclude=known)
            if found:
                service.mark_sent(reply, found)
            else:
                service.mark_retry(reply, "not found on X after a crash; will retry", delay=0.0)
            done += 1
        return done

    def poll(self) -> int:
        """Fetch every new mention (all pages) and save them with the cursor at once."""
        since = service.get_state(service.CURSOR) or None
        _end_transaction()
        mentions: list[Any] = []
        newest: str | None = None
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self.gateway.get_mentions(
                self.account_id, since_id=since, pagination_token=token
            )
            mentions.extend(page.mentions)
            newest = newest or page.newest_id
            token = page.next_token
            if not token:
                break
        if not mentions and not newest:
            return 0
        return service.store_mentions(mentions, newest)

    def send(self, limit: int = 1000) -> int:
        """Send approved replies until none is due, the budget is spent, or X says wait."""
        sent = 0
        while sent < limit and time.time() >= self.send_paused_until:
            reply = service.claim_next()
            if reply is None:
                break
            text, parent, known = reply.text, reply.mention.tweet_id, _other_posts(reply)
            _end_transaction()
            try:
                tweet_id = self.gateway.create_reply(text, parent)
            except XDuplicate:
                # X already has this exact text from us: it was sent before a crash.
                found = self._find_quietly(parent, known)
                service.mark_sent(reply, found)
            except XForbidden as err:
                service.mark_failed(reply, f"X refused: {err}")
                continue
            except XRateLimited as err:
                wait = self._wait_for(err)
                self.send_paused_until = time.time() + wait
                service.mark_retry(reply, "rate limited", delay=wait)
                break
            except XTransient as err:
                # The post may exist even though the answer was lost: look before retrying.
                found = self._find_quietly(parent, known)
                if found:
                    service.mark_sent(reply, found)
                else:
                    service.mark_retry(reply, f"X unavailable: {err}")
                    break
            except XError as err:
                service.mark_failed(reply, f"X error: {err}")
                continue
            else:
                service.mark_sent(reply, tweet_id)
            sent += 1
        return sent

    def _find_quietly(self, tweet_id: str, known: frozenset[str]) -> str | None:
        try:
            return self.gateway.find_reply_to(self.account_id, tweet_id, exclude=known)
        except XError:
            return None

    # ----- passes --------------------------------------------------------------------------

    def once(self) -> Stats:
        """One full pass: reconcile, poll, decide, send."""
        stats = Stats()
        if time.time() < self.paused_until:
            return stats
        try:
            self.ensure_account()
            stats.reconciled = self.reconcile()
            stats.fetched = self.poll()
        except XRateLimited as err:
            self.paused_until = time.time() + self._wait_for(err)
            stats.errors.append(f"rate limited for {self.paused_until - time.time():.0f}s")
        except XError as err:
            self.paused_until = time.time() + self._backoff()
            stats.errors.append(f"{type(err).__name__}: {err}")
        else:
            self.failures = 0
        # Decide and send in small batches: under a backlog the first replies go out after
        # DECIDE_BATCH decisions, not after the whole backlog has been decided.
        while self.account_id and stats.decided < DECIDE_LIMIT:
            decided = service.decide_pending(
                self.account_id, self.account_username, limit=DECIDE_BATCH
            )
            stats.decided += decided
            # Replies left 'sending' must be settled before anything new is sent.
            if not service.sending_replies():
                try:
                    stats.sent += self.send()
                except XError as err:
                    stats.errors.append(f"{type(err).__name__}: {err}")
                    break
            if decided < DECIDE_BATCH:
                break
        return stats

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Run passes until `stop` is set."""
        while not stop.is_set():
            try:
                stats = self.once()
                if stats.fetched or stats.sent or stats.errors:
                    log.info("concierge pass: %s", stats)
            except Exception:  # keep the loop alive; the next pass starts from the database
                log.exception("concierge pass failed")
                db.session.rollback()
            finally:
                db.session.remove()
            wait = max(poll_seconds, min(self.paused_until - time.time(), MAX_WAIT))
            stop.wait(max(0.2, wait))


def start_thread(app: Flask, stop: threading.Event) -> threading.Thread:
    """Run the concierge inside the web process (the demo: `kb serve --demo-concierge`)."""

    def loop() -> None:
        with app.app_context():
            gateway = gateway_from_config(current_app.config)
            try:
                Worker(gateway).run(stop, float(current_app.config["CONCIERGE_POLL_SECONDS"]))
            finally:
                gateway.close()

    thread = threading.Thread(target=loop, name="kb-concierge", daemon=True)
    thread.start()
    return thread
