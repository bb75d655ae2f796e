"""The concierge worker against the X API stand-in subprocess: fetch, decide, send, recover."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from kb import create_app
from kb.concierge import service
from kb.concierge import worker as worker_module
from kb.concierge.demo import DEMO_SETTINGS
from kb.concierge.models import Mention, Reply
from kb.concierge.worker import MAX_WAIT, RATE_LIMIT_FALLBACK, Worker, gateway_from_config
from kb.concierge.x_api import XGateway
from kb.db import db
from kb.models import utcnow
from kb.threads import accept_answer
from tests.conftest import app_config

if TYPE_CHECKING:
    from tests.concierge.conftest import Standin

ACCOUNT_ID = "1500000000000000001"
ACCOUNT = "SkylarkHelps"
HUB_TITLE = "Hub 3 light is amber and nothing connects"
HUB_MENTION = f"@{ACCOUNT} my hub 3 light is amber and nothing connects, help?"
READ_TIMEOUT = 1.0
SLOW = 1.5  # longer than the read timeout


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def app(tmp_path: Path, standin: Standin, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app whose X settings come from KB_X_* variables and point at the stand-in."""
    for name, value in DEMO_SETTINGS.items():
        monkeypatch.setenv(f"KB_{name}", value)
    monkeypatch.setenv("KB_X_API_BASE", standin.url)
    monkeypatch.setenv("KB_X_CONNECT_TIMEOUT", "1.0")
    monkeypatch.setenv("KB_X_READ_TIMEOUT", str(READ_TIMEOUT))
    app = create_app(app_config(tmp_path))
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        app.extensions["kb_search"].close()
        db.engine.dispose()


@pytest.fixture
def solved(make_user: Callable[..., Any], make_thread: Callable[..., Any], make_answer: Any) -> Any:
    """A solved thread the concierge can link to."""
    asker = make_user("asker")
    thread = make_thread(title=HUB_TITLE, author=asker, tags=("hub-3", "lights"))
    body = "Turn off the hub and the fibre box, start the fibre box first, then the hub."
    accept_answer(thread, make_answer(thread, body=body), asker)
    return thread


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    """A staff member who approves replies."""
    return make_user("sam_staff", role="staff")


class Clock:
    """The worker's clock, moved forward by tests instead of sleeping through pauses."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, as the worker sees them."""
        return time.time() + self.offset

    def utcnow(self) -> datetime:
        """The database's idea of now, moved with the worker's clock."""
        return utcnow() + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass for the worker."""
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Move the worker's and the send queue's notion of time (the stand-in keeps real time)."""
    fake = Clock()
    monkeypatch.setattr(worker_module, "time", SimpleNamespace(time=fake.time))
    monkeypatch.setattr(service, "utcnow", fake.utcnow)
    return fake


@pytest.fixture
def gateway(app: Flask) -> Iterator[XGateway]:
    """The worker's gateway, built from the app's settings."""
    with gateway_from_config(app.config) as gateway:
        yield gateway


@pytest.fixture
def worker(gateway: XGateway) -> Worker:
    """A worker over the stand-in."""
    return Worker(gateway)


def settle(worker: Worker, clock: Clock, passes: int = 6) -> None:
    """Run passes, letting any pause or retry delay run out before each one."""
    for _ in range(passes):
        clock.advance(MAX_WAIT + 1)
        worker.once()


def mentions() -> list[Mention]:
    """Stored mentions, oldest first."""
    return list(db.session.scalars(select(Mention).order_by(Mention.id)))


def replies_to(standin: Standin, tweet_id: str) -> list[dict[str, Any]]:
    """The account's posts that reply to `tweet_id`."""
    return [p for p in standin.posted() if p["in_reply_to_tweet_id"] == tweet_id]


def reply_for(tweet_id: str) -> Reply:
    """The first reply drafted for a mention."""
    mention = db.session.scalar(select(Mention).where(Mention.tweet_id == tweet_id))
    assert mention is not None, f"mention {tweet_id} was not stored"
    db.session.refresh(mention)
    assert mention.replies, f"no reply for {tweet_id}: {mention.decision} ({mention.reason})"
    return mention.replies[0]


def approved_reply(worker: Worker, standin: Standin, staff: Any) -> tuple[dict[str, Any], Reply]:
    """A customer's tweet, fetched and decided, with its answer approved but not sent."""
    tweet = standin.tweet("maria", HUB_MENTION)
    worker.ensure_account()  # the pieces of a pass, without sending
    worker.poll()
    service.decide_pending(ACCOUNT_ID, ACCOUNT)
    reply = reply_for(tweet["id"])
    assert reply.kind == "answer"
    service.approve_reply(reply, staff)
    return tweet, reply


def assert_sent_once(standin: Standin, tweet: dict[str, Any], reply: Reply) -> None:
    """Exactly one post replies to the tweet, and the reply row records it."""
    db.session.refresh(reply)
    posted = replies_to(standin, tweet["id"])
    assert len(posted) == 1, posted
    assert (reply.state, reply.tweet_id) == ("sent", posted[0]["id"])
    assert posted[0]["text"] == reply.text


# ---------------------------------------------------------------------------- the happy path


def test_settings_come_from_kb_x_variables(app: Flask, standin: Standin, gateway: XGateway):
    assert app.config["X_API_BASE"] == standin.url
    assert app.config["X_READ_TIMEOUT"] == READ_TIMEOUT
    assert gateway.get_me().username == ACCOUNT


def test_a_pass_fetches_decides_and_sends_only_approved_replies(
    solved, worker: Worker, standin: Standin, staff
):
    hub = standin.tweet("maria", HUB_MENTION)
    unknown = standin.tweet("tom_t", f"@{ACCOUNT} how do I pair the quantum toaster?")
    thanks = standin.tweet("fan", f"@{ACCOUNT} thanks, that fixed it!")

    stats = worker.once()
    assert (stats.fetched, stats.decided, stats.sent, stats.errors) == (3, 3, 0, [])
    assert service.get_state("account_id") == ACCOUNT_ID
    assert [m.decision for m in mentions()] == ["help", "help", "no_reply"]
    assert standin.posted() == []  # drafts wait for staff

    answer = reply_for(hub["id"])
    service.approve_reply(answer, staff)
    stats = worker.once()
    assert (stats.fetched, stats.sent) == (0, 1)
    assert_sent_once(standin, hub, answer)
    assert reply_for(unknown["id"]).state == "draft"
    assert replies_to(standin, thanks["id"]) == []

    assert worker.once().sent == 0
    assert len(standin.posted()) == 1


def test_a_backlog_is_decided_and_sent_in_batches(
    solved, app: Flask, worker: Worker, standin: Standin, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(worker_module, "DECIDE_BATCH", 2)
    app.config.update(
        CONCIERGE_AUTOSEND=True, CONCIERGE_AUTOSEND_THRESHOLD=0.0, CONCIERGE_HOURLY_BUDGET=1000
    )
    tweets = [standin.tweet(f"user{n}", HUB_MENTION) for n in range(5)]

    stats = worker.once()

    assert (stats.fetched, stats.decided, stats.sent, stats.errors) == (5, 5, 5, [])
    first, last = reply_for(tweets[0]["id"]), mentions()[-1]
    assert first.sent_at is not None and last.decided_at is not None
    assert first.sent_at <= last.decided_at  # the first reply did not wait for the last decision
    for tweet in tweets:
        assert len(replies_to(standin, tweet["id"])) == 1


def test_mentions_are_paged_stored_once_and_fetched_since_the_cursor(
    app: Flask, worker: Worker, standin: Standin
):
    posted = standin.tweets(
        [{"author": f"fan{i % 30}", "text": f"@{ACCOUNT} thanks team {i}"} for i in range(150)]
    )
    stats = worker.once()
    assert (stats.fetched, stats.decided, stats.errors) == (150, 150, [])
    stored = [m.tweet_id for m in mentions()]
    assert sorted(stored, key=int) == [t["id"] for t in posted]
    newest = posted[-1]["id"]
    assert service.get_state(service.CURSOR) == newest

    # One request left: without since_id the worker would need two pages and hit a 429.
    standin.limits(mentions=1)
    late = standin.tweets([{"author": "late", "text": f"@{ACCOUNT} thanks {i}"} for i in range(3)])
    stats = worker.once()
    assert (stats.fetched, stats.errors) == (3, [])
    assert service.get_state(service.CURSOR) == late[-1]["id"]

    standin.limits(mentions=300)
    assert worker.once().fetched == 0
    assert db.session.scalar(select(func.count(Mention.id))) == 153


@pytest.mark.parametrize("reset_header", [True, False], ids=["reset", "no-reset-header"])
def test_a_429_on_mentions_pauses_until_the_reset_and_loses_nothing(
    app: Flask, worker: Worker, standin: Standin, clock: Clock, reset_header: bool
):
    worker.once()  # learn the account
    standin.limits(mentions=0)
    if not reset_header:
        standin.faults("none", rate_limit_no_reset=True)
    posted = standin.tweets(
        [{"author": f"c{i}", "text": f"@{ACCOUNT} thanks {i}"} for i in range(5)]
    )

    stats = worker.once()
    assert stats.fetched == 0 and "rate limited" in stats.errors[0]
    pause = worker.paused_until - clock.time()
    if reset_header:
        assert 15 * 60 - 5 <= pause <= 15 * 60 + 2
    else:
        assert RATE_LIMIT_FALLBACK - 2 <= pause <= RATE_LIMIT_FALLBACK

    standin.limits(mentions=300)  # X would allow it again, but the worker keeps to the reset
    stats = worker.once()
    assert (stats.fetched, stats.decided, stats.errors) == (0, 0, [])
    assert mentions() == []

    clock.advance(pause + 1)
    assert worker.once().fetched == 5
    assert sorted((m.tweet_id for m in mentions()), key=int) == [t["id"] for t in posted]


def test_a_429_on_posting_waits_and_then_sends(
    solved, worker: Worker, standin: Standin, staff, clock: Clock
):
    tweet, reply = approved_reply(worker, standin, staff)
    standin.limits(create_tweet=0)
    assert worker.once().sent == 0
    db.session.refresh(reply)
    assert (reply.state, reply.error) == ("approved", "rate limited")
    assert reply.next_attempt_at > clock.utcnow() + timedelta(minutes=14)
    assert worker.send_paused_until - clock.time() > 14 * 60
    assert standin.posted() == []

    standin.limits(create_tweet=100)
    assert worker.once().sent == 0  # still waiting for the reset
    clock.advance(15 * 60 + 1)
    assert worker.once().sent == 1
    assert_sent_once(standin, tweet, reply)


# ---------------------------------------------------------------------------- faults

FAULTS = ["error500", "error503", "slow", "drop", "malformed"]


@pytest.mark.parametrize("mode", FAULTS)
def test_a_failed_poll_loses_no_mention(
    app: Flask, worker: Worker, standin: Standin, clock: Clock, mode: str
):
    worker.once()
    posted = standin.tweets(
        [{"author": f"c{i}", "text": f"@{ACCOUNT} thanks {i}"} for i in range(120)]
    )
    standin.faults(mode, count=1, delay=SLOW)
    stats = worker.once()
    assert stats.fetched == 0 and stats.errors
    assert worker.paused_until > clock.time()
    assert mentions() == []

    settle(worker, clock, passes=2)
    stored = sorted((m.tweet_id for m in mentions()), key=int)
    assert stored == [t["id"] for t in posted]
    assert service.get_state(service.CURSOR) == posted[-1]["id"]


@pytest.mark.parametrize("mode", [*FAULTS, "drop_after_post"])
def test_a_failed_post_is_sent_exactly_once(
    solved, worker: Worker, standin: Standin, staff, clock: Clock, mode: str
):
    tweet, reply = approved_reply(worker, standin, staff)
    standin.faults(mode, count=1, delay=SLOW)
    worker.send()
    db.session.refresh(reply)
    if mode == "drop_after_post":
        # X posted it but the answer was lost: found on X at once, never posted again.
        assert reply.state == "sent"
        assert_sent_once(standin, tweet, reply)
    else:
        assert reply.state == "approved" and reply.error
    settle(worker, clock, passes=3)
    if mode == "slow":
        time.sleep(SLOW)  # a post that X finishes late must not become a second reply
    assert_sent_once(standin, tweet, reply)


def test_faults_on_every_call_for_a_while_still_end_in_one_reply_each(
    solved, worker: Worker, standin: Standin, app: Flask, clock: Clock
):
    app.config.update(CONCIERGE_AUTOSEND=True, CONCIERGE_AUTOSEND_THRESHOLD=0.0)
    worker.once()
    tweets = standin.tweets([{"author": f"cust{i}", "text": HUB_MENTION} for i in range(6)])
    for mode in ("error503", "drop", "drop_after_post", "malformed", "error500", "drop_after_post"):
        standin.faults(mode, count=2)
        clock.advance(MAX_WAIT + 1)
        worker.once()
    standin.faults("none")
    settle(worker, clock, passes=4)
    for tweet in tweets:
        assert_sent_once(standin, tweet, reply_for(tweet["id"]))
    assert len(standin.posted()) == len(tweets)


@pytest.mark.parametrize("on_x", [True, False], ids=["posted-before-crash", "not-posted"])
def test_a_reply_left_sending_by_a_crash_is_reconciled(
    solved, worker: Worker, gateway: XGateway, standin: Standin, staff, on_x: bool
):
    tweet, reply = approved_reply(worker, standin, staff)
    assert service.claim_next() is reply  # committed as "sending", then the process died
    if on_x:
        gateway.create_reply(reply.text, tweet["id"])

    restarted = Worker(gateway)
    stats = restarted.once()
    assert stats.reconciled == 1
    assert stats.sent == (0 if on_x else 1)
    assert_sent_once(standin, tweet, reply)
    assert restarted.once().sent == 0


@pytest.mark.parametrize("failure", ["crash-before-post", "error503"])
def test_a_follow_up_is_not_mistaken_for_the_first_reply(
    solved, worker: Worker, standin: Standin, staff, make_user, make_answer, clock: Clock,
    failure: str,
):  # fmt: skip
    tweet, first = approved_reply(worker, standin, staff)
    assert worker.send() == 1
    # The customer asked the community from our link; the thread is solved: a follow-up.
    asker = make_user("tweeter")
    from kb.threads import ask_thread

    thread = ask_thread(
        asker, title="Hub 3 amber again after the fibre box restart", tags=["hub-3"],
        body="Did the restart in the right order and the light went amber again an hour later.",
    )  # fmt: skip
    service.link_thread_to_mention(thread, first.mention_id)
    accept_answer(thread, make_answer(thread, body="Ask for a line test in the app."), asker)
    follow_up = next(r for r in first.mention.replies if r.purpose == "follow_up")
    service.approve_reply(follow_up, staff)

    if failure == "crash-before-post":
        assert service.claim_next() is follow_up  # then the process died before posting
        Worker(worker.gateway).once()
    else:
        standin.faults(failure, count=1)
        worker.send()
    settle(worker, clock, passes=2)

    posted = replies_to(standin, tweet["id"])
    db.session.refresh(follow_up)
    assert [p["text"] for p in posted] == [first.text, follow_up.text]
    assert (follow_up.state, follow_up.tweet_id) == ("sent", posted[1]["id"])


def test_duplicate_content_counts_as_sent(
    solved, worker: Worker, gateway: XGateway, standin: Standin, staff
):
    tweet, reply = approved_reply(worker, standin, staff)
    first = gateway.create_reply(reply.text, tweet["id"])
    assert worker.send() == 1
    assert_sent_once(standin, tweet, reply)
    assert reply.tweet_id == first


def test_the_worker_never_holds_the_write_lock_while_waiting_for_x(
    solved, app: Flask, worker: Worker, standin: Standin, staff
):
    # SQLite has one writer: a web request that writes must not wait for X's answers.
    approved_reply(worker, standin, staff)
    db.session.commit()
    standin.faults("slow", count=3, delay=2.0)

    def send() -> None:
        with app.app_context():
            worker.send()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        time.sleep(0.5)  # the worker is now waiting for X to post the reply
        path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
        with closing(sqlite3.connect(path, timeout=0.5, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE users SET reputation = reputation")
            other.execute("COMMIT")
    finally:
        sender.join(timeout=15)
        standin.faults("none")


# ---------------------------------------------------------------------------- our own posts


def test_own_posts_are_ignored_and_never_replied_to(
    solved, app: Flask, worker: Worker, standin: Standin
):
    app.config.update(CONCIERGE_AUTOSEND=True, CONCIERGE_AUTOSEND_THRESHOLD=0.0)
    own = standin.tweet(ACCOUNT, f"@{ACCOUNT} help: known fault, hub 3 light amber in Leeds")
    customer = standin.tweet("maria", HUB_MENTION)
    worker.once()
    decisions = {m.tweet_id: (m.decision, m.reason) for m in mentions()}
    assert decisions[own["id"]] == ("ignore", "own post")
    ours = reply_for(customer["id"])
    assert ours.state == "sent"

    # The customer answers our reply: it mentions us, but we have already replied there.
    again = standin.tweet("maria", "still amber, help?", in_reply_to_tweet_id=ours.tweet_id)
    worker.once()
    follow = db.session.scalar(select(Mention).where(Mention.tweet_id == again["id"]))
    assert follow.decision == "already_replied" and follow.replies == []
    worker.once()

    posted = standin.posted()  # our announcement and our one reply
    assert [p["in_reply_to_tweet_id"] for p in posted] == [None, customer["id"]]
    assert not {p["id"] for p in posted} & {p["in_reply_to_tweet_id"] for p in posted}


# ---------------------------------------------------------------------------- the commands


def test_kb_concierge_once(solved, app: Flask, standin: Standin):
    standin.tweet("maria", HUB_MENTION)
    result = app.test_cli_runner().invoke(args=["concierge", "once"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "fetched 1, decided 1, sent 0, reconciled 0"


def test_kb_concierge_needs_credentials(app: Flask):
    app.config["X_ACCESS_SECRET"] = ""
    result = app.test_cli_runner().invoke(args=["concierge", "once"])
    assert result.exit_code == 1 and "Set KB_X_ACCESS_SECRET" in result.output


def test_the_worker_thread_answers_and_stops(solved, app: Flask, standin: Standin):
    app.config.update(
        CONCIERGE_AUTOSEND=True, CONCIERGE_AUTOSEND_THRESHOLD=0.0, CONCIERGE_POLL_SECONDS=0.2
    )
    tweet = standin.tweet("maria", HUB_MENTION)
    stop = threading.Event()
    thread = worker_module.start_thread(app, stop)
    try:
        deadline = time.monotonic() + 15
        while not replies_to(standin, tweet["id"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    db.session.expire_all()
    assert_sent_once(standin, tweet, reply_for(tweet["id"]))
