"""Several processes vote and answer on one SQLite file at once: no lock errors, exact totals."""

from __future__ import annotations

import multiprocessing
import queue
import random
import sqlite3
import threading
import time
import traceback
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from kb import create_app
from kb.db import db
from kb.errors import ValidationError
from kb.models import Answer, Thread, User, Vote
from kb.threads import REP_DOWNVOTE, REP_UPVOTE, ask_thread, cast_vote, post_answer
from tests.conftest import app_config

VOTERS = 8
THREADS = 5
ANSWERS_PER_THREAD = 4
BODY = "Since this morning the light on my Hub 3 is amber and no device connects."


def final_value(voter: int, post: int) -> int:
    """Where voter `voter` ends up on post number `post`: up, down or withdrawn."""
    if (voter * 7 + post) % 11 == 3:
        return 0
    return -1 if (voter + post) % 4 == 0 else 1


def voting_plan(voter: int, posts: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """The votes one voter casts, in a shuffled order, with changes of mind on the way."""
    steps: dict[tuple[str, int], list[int]] = {}
    for number, post in enumerate(posts):
        final = final_value(voter, number)
        if final == 0:
            steps[post] = [1 if number % 2 else -1, 0]  # voted, then withdrew
        elif number % 5 == voter % 5:
            steps[post] = [-final, final]  # changed their mind
        else:
            steps[post] = [final]
    # Shuffle the order of the votes, but keep each post's own steps in sequence.
    slots = [post for post, values in steps.items() for _ in values]
    random.Random(voter).shuffle(slots)
    return [(kind, post_id, steps[(kind, post_id)].pop(0)) for kind, post_id in slots]


def _voter_process(
    config: dict[str, Any],
    name: str,
    plan: list[tuple[str, int, int]],
    answer_on: int,
    start: Any,
    out: Any,
) -> None:
    """One process: its own app on the shared database file, voting and answering."""
    errors: list[str] = []
    try:
        app = create_app(config)
        with app.app_context():
            voter = db.session.scalar(select(User).where(User.name == name))
            db.session.rollback()
            start.wait(timeout=60)
            for kind, post_id, value in plan:
                try:
                    cast_vote(voter, kind, post_id, value)
                except Exception as err:  # every failure is reported
                    errors.append(f"vote {kind} {post_id} {value}: {err!r}")
                    db.session.rollback()
            try:
                post_answer(db.session.get(Thread, answer_on), voter, body=f"{name} says: {BODY}")
            except Exception as err:
                errors.append(f"answer on {answer_on}: {err!r}")
            db.session.remove()
            db.engine.dispose()
    except Exception:
        errors.append(traceback.format_exc())
    out.put((name, errors))


def test_parallel_votes_and_answers_add_up_exactly(app, make_user, tmp_path):
    # The index is not under test here: leave its jobs queued instead of applying each one.
    app.config["INDEX_SYNC"] = False
    config = app_config(tmp_path, INDEX_SYNC=False)
    asker, helper = make_user("asker"), make_user("helper")
    voters = [make_user(f"voter{i}") for i in range(VOTERS)]
    threads = [
        ask_thread(asker, title=f"Shared question number {n} about Wi-Fi", body=BODY, tags="wifi")
        for n in range(THREADS)
    ]
    answers = [
        post_answer(thread, helper, body=f"Answer {k} to this: restart the hub and wait.")
        for thread in threads
        for k in range(ANSWERS_PER_THREAD)
    ]
    posts = [("thread", t.id) for t in threads] + [("answer", a.id) for a in answers]
    thread_ids = [t.id for t in threads]
    names = [v.name for v in voters]
    plans = [voting_plan(i, posts) for i in range(VOTERS)]
    db.session.commit()
    db.session.close()  # hold no transaction while the workers write

    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(VOTERS), ctx.Queue()
    procs = [
        ctx.Process(
            target=_voter_process,
            args=(config, names[i], plans[i], thread_ids[i % THREADS], start, out),
        )
        for i in range(VOTERS)
    ]
    began = time.monotonic()
    for proc in procs:
        proc.start()
    reports: dict[str, list[str]] = {}
    try:
        while len(reports) < VOTERS:
            name, errors = out.get(timeout=max(1.0, 60 - (time.monotonic() - began)))
            reports[name] = errors
    except queue.Empty:
        pass
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        out.close()
        out.join_thread()

    assert sorted(reports) == sorted(names), "some workers never reported"
    assert {name: errs for name, errs in reports.items() if errs} == {}
    assert [p.exitcode for p in procs] == [0] * VOTERS

    # Expected totals from the plans' final values.
    expected_score: Counter[tuple[str, int]] = Counter()
    expected_rep: Counter[str] = Counter()
    for i in range(VOTERS):
        for number, (kind, post_id) in enumerate(posts):
            value = final_value(i, number)
            expected_score[(kind, post_id)] += value
            if value:
                who = "asker" if kind == "thread" else "helper"
                expected_rep[who] += REP_UPVOTE[kind] if value > 0 else REP_DOWNVOTE

    db.session.expire_all()
    scores = {("thread", i): s for i, s in db.session.execute(select(Thread.id, Thread.score))}
    scores.update(
        {("answer", i): s for i, s in db.session.execute(select(Answer.id, Answer.score))}
    )
    assert {post: scores[post] for post in posts} == {post: expected_score[post] for post in posts}
    reputations = dict(db.session.execute(select(User.name, User.reputation)).all())
    assert reputations == {
        "asker": expected_rep["asker"],
        "helper": expected_rep["helper"],
        **{name: 0 for name in names},
    }
    assert expected_rep["asker"] != 0 and expected_rep["helper"] != 0

    nonzero = sum(1 for i in range(VOTERS) for n in range(len(posts)) if final_value(i, n))
    assert db.session.scalar(select(func.count()).select_from(Vote)) == nonzero

    counts = dict(db.session.execute(select(Thread.id, Thread.answer_count)).all())
    per_thread = Counter(thread_ids[i % THREADS] for i in range(VOTERS))
    assert counts == {t: ANSWERS_PER_THREAD + per_thread[t] for t in thread_ids}
    assert db.session.scalar(select(func.count()).select_from(Answer)) == len(answers) + VOTERS


def test_formatting_a_post_holds_no_lock(app, make_user, make_thread, tmp_path):
    thread_id = make_thread().id
    bob = make_user("bob")
    bob_id = bob.id
    outcome: dict[str, Any] = {}

    def other_writer() -> None:
        time.sleep(0.2)  # the post below is being formatted by now (that takes ~1 s)
        conn = sqlite3.connect(tmp_path / "kb.sqlite3", timeout=0.8, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE users SET about = 'busy elsewhere' WHERE id = ?", (bob_id,))
            conn.execute("COMMIT")
            outcome["ok"] = True
        except sqlite3.OperationalError as err:
            outcome["error"] = str(err)
        finally:
            conn.close()

    thread = db.session.get(Thread, thread_id)  # a request has its transaction open by now
    writer = threading.Thread(target=other_writer)
    writer.start()
    with pytest.raises(ValidationError):
        post_answer(thread, bob, body="[" * 20000)
    writer.join()
    db.session.rollback()
    assert outcome == {"ok": True}
    assert db.session.get(User, bob_id).about == "busy elsewhere"


def test_a_vote_leaves_no_lock_behind(app, make_user, make_thread, tmp_path):
    thread_id = make_thread().id
    voter = make_user("vic")

    def another_process_can_write() -> bool:
        conn = sqlite3.connect(tmp_path / "kb.sqlite3", timeout=0.05, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()

    assert cast_vote(voter, "thread", thread_id, 1) == 1
    assert another_process_can_write()
    assert cast_vote(voter, "thread", thread_id, 1) == 1  # the same vote again: no change
    assert another_process_can_write()
    assert cast_vote(voter, "thread", thread_id, 0) == 0
    assert another_process_can_write()
