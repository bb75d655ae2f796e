"""The index_jobs queue: pending changes survive a crash; rebuilds and repeats are safe."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, select

from kb import create_app
from kb.db import db
from kb.models import IndexJob, Thread
from kb.search import backend
from kb.search.indexer import process_pending, reindex_all
from kb.search.service import run_search
from tests.conftest import ROOT, app_config

# Asks a question in a separate process that dies (SIGKILL) right after the commit,
# before anything is indexed: the job row is all that is left of the index change.
CRASHING_WRITER = """
import json, os, signal, sys
from kb import create_app
from kb.db import db
from kb.threads import ask_thread
from kb.users import create_user

app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    author = create_user("crashy", email="crashy@example.com", password="correct horse battery")
    ask_thread(
        author,
        title="Powerline adapters lose sync after midnight",
        body="Both powerline adapters blink red after midnight until I replug them.",
        tags=["powerline"],
    )
    os.kill(os.getpid(), signal.SIGKILL)
"""


def job_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(IndexJob))
    db.session.rollback()  # outside a request every transaction holds the write lock
    return int(count or 0)


def titles(query: str) -> list[str]:
    return [hit.title for hit in run_search(query).hits]


def test_pending_jobs_survive_a_crash_and_are_applied_at_start(app, tmp_path):
    config = app_config(tmp_path, INDEX_SYNC=False)
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert db.session.scalar(select(Thread.title)) == "Powerline adapters lose sync after midnight"
    assert job_count() == 1
    assert titles("powerline adapters") == []

    assert process_pending() == 1  # what `kb serve` and `kb indexer` do first

    assert titles("powerline adapters") == ["Powerline adapters lose sync after midnight"]
    assert job_count() == 0


def test_reindex_all_rebuilds_a_deleted_index_from_the_database(app, make_thread, make_answer):
    first = make_thread(title="Freeview channels missing after retune", tags=["tv"])
    make_answer(first, body="Do a full factory retune, not the quick channel scan.")
    make_thread(title="Landline crackles when it rains outside", tags=["landline"])
    backend().close()
    shutil.rmtree(app.config["INDEX_DIR"])

    assert titles("retune") == []

    assert reindex_all() == 2

    assert titles("retune") == ["Freeview channels missing after retune"]
    assert titles("factory") == ["Freeview channels missing after retune"]
    assert titles("crackles rains") == ["Landline crackles when it rains outside"]
    assert not Path(app.config["INDEX_DIR"] + ".new").exists()
    assert not Path(app.config["INDEX_DIR"] + ".old").exists()


def test_reindex_all_clears_the_queue_and_leaves_out_hidden_threads(app, make_thread):
    app.config["INDEX_SYNC"] = False
    shown = make_thread(title="Email password reset link expired")
    hidden = make_thread(title="Email spam about prizes and password")
    hidden.hidden = True
    db.session.commit()
    assert job_count() == 2

    assert reindex_all() == 1

    assert job_count() == 0
    assert titles("email password") == [shown.title]


def test_processing_the_same_job_twice_is_harmless(app, make_thread):
    thread = make_thread(title="Smart plug drops off the network nightly")  # indexed once
    app.config["INDEX_SYNC"] = False

    # The same change again, twice per batch: as after a crash between the index
    # commit and the job delete.
    for _ in range(2):
        db.session.add_all([IndexJob(doc_kind="thread", doc_id=thread.id) for _ in range(2)])
        db.session.commit()
        assert process_pending() == 2

    assert process_pending() == 0
    assert backend().doc_count() == 1
    assert titles("smart plug") == [thread.title]
    assert job_count() == 0


def test_job_for_a_deleted_thread_removes_it_from_the_index(app, make_thread):
    thread = make_thread(title="Duplicate question about slow speeds")
    assert titles("duplicate speeds") == [thread.title]
    app.config["INDEX_SYNC"] = False
    db.session.delete(thread)
    db.session.add(IndexJob(doc_kind="thread", doc_id=thread.id))
    db.session.commit()

    assert process_pending() == 1

    assert titles("duplicate speeds") == []
    assert backend().doc_count() == 0


def test_two_apps_processing_pending_at_once_cause_no_lock_error(app, tmp_path, make_thread):
    app.config["INDEX_SYNC"] = False
    threads = [
        make_thread(title=f"Parental controls question number {n} for the kids") for n in range(40)
    ]
    assert job_count() == 40
    apps = [create_app(app_config(tmp_path)) for _ in range(2)]
    start = threading.Barrier(len(apps))
    errors: list[BaseException] = []
    done: list[int] = []

    def work(other) -> None:
        try:
            with other.app_context():
                start.wait()
                done.append(process_pending(limit=10))
                db.session.remove()
        except BaseException as err:  # reported below, with the thread's error
            errors.append(err)

    workers = [threading.Thread(target=work, args=(a,)) for a in apps]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    for other in apps:
        with other.app_context():
            other.extensions["kb_search"].close()
            db.engine.dispose()

    assert errors == []
    assert sum(done) >= 40
    assert job_count() == 0
    assert backend().doc_count() == 40
    found = run_search("parental controls kids", per_page=50).hits
    assert sorted(h.db_id for h in found) == sorted(t.id for t in threads)
