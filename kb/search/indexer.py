"""Keeps the search index in step with the database through the index_jobs queue.

Every write queues a job in its own transaction; a single indexer applies jobs and
only then deletes them, so a crash between the commit and the index update loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

from flask import Flask, current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from kb.db import db, reading
from kb.markup import plain_text
from kb.models import Answer, Article, IndexJob, Thread
from kb.search import backend
from kb.search.types import SearchDoc

log = logging.getLogger(__name__)
BATCH = 500


def thread_docs(session: Session, ids: Sequence[int]) -> dict[int, SearchDoc]:
    """Search documents for the visible threads among `ids`."""
    if not ids:
        return {}
    threads = session.scalars(
        select(Thread)
        .where(Thread.id.in_(ids), Thread.hidden.is_(False), Thread.duplicate_of_id.is_(None))
        .options(selectinload(Thread.tags))
    ).all()
    alt = alternate_wordings(session, [t.id for t in threads])
    boosts = quality_boosts(session, "thread", [t.id for t in threads])
    answers: dict[int, list[Answer]] = {}
    for answer in session.scalars(
        select(Answer).where(Answer.thread_id.in_(ids), Answer.hidden.is_(False))
    ):
        answers.setdefault(answer.thread_id, []).append(answer)
    docs = {}
    for thread in threads:
        mine = answers.get(thread.id, [])
        accepted = next((a for a in mine if a.id == thread.accepted_answer_id), None)
        docs[thread.id] = SearchDoc(
            kind="thread",
            db_id=thread.id,
            title=thread.title,
            body=plain_text(thread.body_html),
            answers=" ".join(a.body_md for a in mine),
            alt=alt.get(thread.id, ""),
            boost=boosts.get(thread.id, 0.0),
            tags=thread.tag_names,
            state="solved" if accepted else "open",
            accepted_score=accepted.score if accepted else 0,
        )
    return docs


def alternate_wordings(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Titles and questions of the duplicates closed into each thread: other ways to ask it."""
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    rows = session.execute(
        select(Thread.duplicate_of_id, Thread.title, Thread.body_md).where(
            Thread.duplicate_of_id.in_(ids), Thread.hidden.is_(False)
        )
    )
    for original_id, title, body in rows:
        out.setdefault(original_id, []).append(f"{title}. {body[:1000]}")
    return {k: " ".join(v) for k, v in out.items()}


def quality_boosts(session: Session, kind: str, ids: Sequence[int]) -> dict[int, float]:
    """The bounded ranking boost from 'was this helpful?' answers and concierge link clicks."""
    from sqlalchemy import case, func

    from kb.concierge.models import Click, Mention
    from kb.feedback import boost
    from kb.models import Feedback

    if not ids:
        return {}
    votes = {
        target_id: (int(yes), int(no))
        for target_id, yes, no in session.execute(
            select(
                Feedback.target_id,
                func.sum(case((Feedback.helpful.is_(True), 1), else_=0)),
                func.sum(case((Feedback.helpful.is_(False), 1), else_=0)),
            )
            .where(Feedback.target_kind == kind, Feedback.target_id.in_(ids))
            .group_by(Feedback.target_id)
        )
    }
    clicks = {
        target_id: int(count)
        for target_id, count in session.execute(
            select(Mention.matched_id, func.count(Click.id))
            .join(Click, Click.mention_id == Mention.id)
            .where(Mention.matched_kind == kind, Mention.matched_id.in_(ids))
            .group_by(Mention.matched_id)
        )
    }
    return {
        i: boost(*votes.get(i, (0, 0)), clicks=clicks.get(i, 0)) for i in set(votes) | set(clicks)
    }


def article_docs(session: Session, ids: Sequence[int]) -> dict[int, SearchDoc]:
    """Search documents for the articles among `ids`."""
    if not ids:
        return {}
    docs = {}
    boosts = quality_boosts(session, "article", ids)
    for article in session.scalars(
        select(Article)
        .where(Article.id.in_(ids), Article.published.is_(True))
        .options(selectinload(Article.tags))
    ):
        docs[article.id] = SearchDoc(
            kind="article",
            db_id=article.id,
            title=article.title,
            body=f"{article.summary} {plain_text(article.body_html)}",
            tags=article.tag_names,
            state="article",
            boost=boosts.get(article.id, 0.0),
        )
    return docs


def process_pending(limit: int = BATCH) -> int:
    """Apply queued index changes in batches until the queue is empty; return how many."""
    done = 0
    while True:
        # Read without SQLite's write lock, and hold no database lock while waiting for the
        # index's writer lock: a bulk import holds that one and needs the database meanwhile.
        with reading(), Session(db.engine) as session:
            jobs = session.execute(
                select(IndexJob.id, IndexJob.doc_kind, IndexJob.doc_id)
                .order_by(IndexJob.id)
                .limit(limit)
            ).all()
            if not jobs:
                return done
            wanted: dict[str, set[int]] = {"thread": set(), "article": set()}
            for _id, kind, doc_id in jobs:
                wanted.setdefault(kind, set()).add(doc_id)
            found = {
                "thread": thread_docs(session, sorted(wanted["thread"])),
                "article": article_docs(session, sorted(wanted["article"])),
            }
        upserts, deletes = [], []
        for kind, ids in wanted.items():
            for doc_id in ids:
                doc = found.get(kind, {}).get(doc_id)
                if doc is None:
                    deletes.append(f"{kind}:{doc_id}")
                else:
                    upserts.append(doc)
        backend().apply(upserts, deletes)
        # Only now forget the jobs: a crash before this line re-applies them (idempotent).
        with Session(db.engine) as session:
            session.execute(delete(IndexJob).where(IndexJob.id.in_([j[0] for j in jobs])))
            session.commit()
        done += len(jobs)


def all_docs(session: Session, batch: int = 1000) -> Iterator[SearchDoc]:
    """Every visible thread and article as a search document, in batches."""
    last = 0
    while True:
        ids = session.scalars(
            select(Thread.id).where(Thread.id > last).order_by(Thread.id).limit(batch)
        ).all()
        if not ids:
            break
        docs = thread_docs(session, ids)
        yield from (docs[i] for i in ids if i in docs)
        last = ids[-1]
        session.expunge_all()
    article_ids = session.scalars(select(Article.id)).all()
    yield from article_docs(session, article_ids).values()


def reindex_all(procs: int = 1) -> int:
    """Rebuild the whole index from the database; returns the number of documents."""
    with Session(db.engine) as session:
        high = session.scalar(select(IndexJob.id).order_by(IndexJob.id.desc()).limit(1)) or 0
        count = backend().rebuild(all_docs(session), procs=procs)
        # Everything queued before the rebuild started is now in the index.
        session.execute(delete(IndexJob).where(IndexJob.id <= high))
        session.commit()
    return count


def start_thread(app: Flask) -> threading.Thread:
    """Run the single in-process indexer beside the web server (`kb serve`)."""
    wake = app.extensions["kb_index_wakeup"]

    def loop() -> None:
        with app.app_context():
            while True:
                try:
                    process_pending()
                except Exception:  # keep indexing after a transient failure
                    log.exception("index update failed; will retry")
                    time.sleep(1.0)
                wake.event.wait(1.0)
                wake.event.clear()

    thread = threading.Thread(target=loop, name="kb-indexer", daemon=True)
    thread.start()
    return thread


def run_forever(poll: float = 0.5) -> None:
    """The standalone indexer (`kb indexer`) to run beside gunicorn."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    log.info("indexer started for %s", app.config["INDEX_DIR"])
    while True:
        try:
            if not process_pending():
                time.sleep(poll)
        except Exception:
            log.exception("index update failed; will retry")
            time.sleep(1.0)
