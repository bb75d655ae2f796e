"""`kb import`: JSON Lines in, bad lines reported by number, the rest written and indexed."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.importer import import_lines
from kb.models import Answer, Comment, IndexJob, Revision, Thread, User
from kb.search.service import run_search
from kb.threads import REP_ACCEPTED, REP_DOWNVOTE, REP_UPVOTE


def hub_thread(**changes) -> dict:
    """A good line: a solved thread with two scored answers and a comment."""
    line = {
        "key": "forum-1001",
        "title": "Amber light on Hub 3 since the storm",
        "body": "Woke up to an **amber** light and no internet on anything.",
        "tags": ["Hub 3", "outage"],
        "author": "Mike In Mossley",
        "created": "2026-05-02T08:14:00Z",
        "comments": [{"author": "Nora", "body": "Same here in M1.", "created": None}],
        "answers": [
            {
                "body": "Check the ONT on the wall: a red LOS light is a line fault.",
                "author": "alice_fibre",
                "score": 3,
                "accepted": True,
                "created": "2026-05-02T09:00:00+01:00",
            },
            {"body": "Mine was fried by lightning, get a new hub.", "author": "bob", "score": -1},
        ],
    }
    line.update(changes)
    return line


def remote_thread() -> dict:
    return {
        "key": "forum-1002",
        "title": "Voice remote will not pair with the Stream box",
        "body": "The remote stopped pairing after I changed the batteries.",
        "tags": ["remote"],
        "author": "alice_fibre",
        "created": "2026-04-20 18:30:00",
        "answers": [
            {"body": "Hold home and back for five seconds.", "author": "carol", "score": 2}
        ],
    }


def lines(*objs: object) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in objs]


def user(name: str) -> User | None:
    return db.session.scalar(select(User).where(User.name == name))


def count(model: type) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_good_lines_import_threads_answers_users_and_reputation(app):
    report = import_lines(lines(hub_thread(), "", remote_thread()), procs=1)

    assert report.errors == []
    assert (report.added, report.updated, report.indexed) == (2, 0, 2)
    hub = db.session.scalar(select(Thread).where(Thread.key == "forum-1001"))
    assert hub.title == "Amber light on Hub 3 since the storm"
    assert "<strong>amber</strong>" in hub.body_html
    assert hub.tag_names == ["hub-3", "outage"]
    assert hub.created == datetime(2026, 5, 2, 8, 14)
    assert hub.author.name == "mike_in_mossley"
    assert hub.answer_count == 2
    answers = {a.author.name: a for a in hub.answers}
    assert answers["alice_fibre"].score == 3 and answers["bob"].score == -1
    assert answers["alice_fibre"].created == datetime(2026, 5, 2, 8, 0)  # +01:00 in UTC
    assert hub.solved and hub.accepted_answer_id == answers["alice_fibre"].id
    remote = db.session.scalar(select(Thread).where(Thread.key == "forum-1002"))
    assert not remote.solved
    assert remote.created == datetime(2026, 4, 20, 18, 30)
    assert count(Comment) == 1
    assert report.users_created == 5  # mike_in_mossley, nora, alice_fibre, bob, carol
    for name in ("mike_in_mossley", "nora", "alice_fibre", "bob", "carol"):
        assert user(name).role == "member" and user(name).password_hash is None
    assert user("alice_fibre").reputation == 3 * REP_UPVOTE["answer"] + REP_ACCEPTED
    assert user("bob").reputation == REP_DOWNVOTE
    assert user("carol").reputation == 2 * REP_UPVOTE["answer"]
    assert user("mike_in_mossley").reputation == 0


def test_imported_threads_are_searchable_at_once_and_the_queue_is_empty(app):
    import_lines(lines(hub_thread(), remote_thread()), procs=1)

    assert [h.title for h in run_search("amber storm").hits] == [hub_thread()["title"]]
    assert [h.title for h in run_search("LOS light").hits] == [hub_thread()["title"]]  # answer
    assert [h.title for h in run_search("pairing batteries").hits] == [remote_thread()["title"]]
    assert count(IndexJob) == 0


def test_reimport_with_the_same_key_updates_instead_of_duplicating(app):
    import_lines(lines(hub_thread(), remote_thread()), procs=1)
    thread_id = db.session.scalar(select(Thread.id).where(Thread.key == "forum-1001"))
    changed = hub_thread(
        title="Hub 3 amber light after a thunderstorm",
        answers=[
            {
                "body": "Power cycle the ONT first, then the hub, two minutes apart.",
                "author": "alice_fibre",
                "score": 5,
                "accepted": True,
            }
        ],
    )

    report = import_lines(lines(changed, remote_thread()), procs=1)

    assert (report.added, report.updated, report.users_created) == (0, 2, 0)
    assert count(Thread) == 2 and count(Answer) == 2 and count(Comment) == 1
    hub = db.session.get(Thread, thread_id)
    db.session.refresh(hub)
    assert hub.title == "Hub 3 amber light after a thunderstorm"
    assert [a.body_md for a in hub.answers] == [changed["answers"][0]["body"]]
    assert hub.answer_count == 1 and hub.solved
    assert user("alice_fibre").reputation == 5 * REP_UPVOTE["answer"] + REP_ACCEPTED
    assert user("bob").reputation == 0  # the answer that cost bob is gone
    assert user("carol").reputation == 2 * REP_UPVOTE["answer"]  # not counted twice
    answer_revisions = set(
        db.session.scalars(select(Revision.target_id).where(Revision.target_kind == "answer"))
    )
    assert answer_revisions == set(db.session.scalars(select(Answer.id)))  # none orphaned
    latest = db.session.scalars(
        select(Revision.title)
        .where(Revision.target_kind == "thread", Revision.target_id == thread_id)
        .order_by(Revision.id)
    ).all()
    assert latest[-1] == hub.title
    assert [h.title for h in run_search("thunderstorm").hits] == [hub.title]
    assert run_search("fried lightning").hits == []  # the removed answer left the index
    assert len(run_search("amber").hits) == 1
    assert count(IndexJob) == 0


def test_the_same_key_twice_in_one_file_is_reported_not_duplicated(app):
    report = import_lines(
        lines(hub_thread(), remote_thread(), hub_thread(title="Amber light on Hub 3, second copy")),
        procs=1,
    )

    assert report.errors == [(3, "key 'forum-1001' already appeared on line 1")]
    assert report.added == 2
    assert count(Thread) == 2
    assert db.session.scalar(select(Thread.title).where(Thread.key == "forum-1001")) == (
        "Amber light on Hub 3 since the storm"
    )


BAD_LINES = [
    ('{"title": "Broken JSON line here', "not valid JSON"),
    ("[1, 2, 3]", "each line must be a JSON object"),
    ({"body": "No title on this one at all.", "author": "ghost1"}, "'title' must be a string"),
    ({"title": 42, "body": "A number as title.", "author": "ghost2"}, "'title' must be a string"),
    (
        {"title": "Answers are not a list", "body": "Body text here.", "author": "ghost3",
         "answers": "none"},
        "'answers' must be a list",
    ),
    (
        hub_thread(key="bad-accept", author="ghost4", answers=[
            {"body": "One.", "author": "ghost4a", "accepted": True},
            {"body": "Two.", "author": "ghost4b", "accepted": True},
        ]),
        "more than one answer is marked accepted",
    ),
    (hub_thread(key="bad-date", author="ghost5", created="last Tuesday"), "not an ISO-8601 date"),
    (
        hub_thread(key="bad-score", author="ghost6",
                   answers=[{"body": "Text.", "author": "ghost6a", "score": "3"}]),
        "answer 1: 'score' must be a whole number",
    ),
    (
        hub_thread(key="bool-score", author="ghost7",
                   answers=[{"body": "Text.", "author": "ghost7a", "score": True}]),
        "answer 1: 'score' must be a whole number",
    ),
    (hub_thread(key="slow-body", author="ghost8", body="[" * 20000), "could not be formatted"),
]  # fmt: skip


def test_bad_lines_are_reported_by_number_and_write_nothing(app):
    good_first, good_last = remote_thread(), hub_thread()
    objs = [good_first, *[bad for bad, _ in BAD_LINES], good_last]

    report = import_lines(lines(*objs), procs=1)

    assert [line for line, _ in report.errors] == list(range(2, 2 + len(BAD_LINES)))
    for (_, reason), (_, expected) in zip(report.errors, BAD_LINES, strict=True):
        assert expected in reason
    assert report.added == 2
    assert sorted(db.session.scalars(select(Thread.key))) == ["forum-1001", "forum-1002"]
    names = set(db.session.scalars(select(User.name)))
    assert not {n for n in names if n.startswith("ghost")}
    assert count(Answer) == 3
    assert count(IndexJob) == 0
    assert len(run_search("amber").hits) == 1


def test_kb_import_prints_the_summary_and_each_bad_line(app, runner, tmp_path):
    path = tmp_path / "forum.jsonl"
    path.write_text(
        "\n".join(lines(remote_thread(), "{oops", hub_thread(answers="x"), hub_thread())) + "\n",
        encoding="utf-8",
    )

    result = runner.invoke(args=["import", str(path), "--procs", "1"])

    assert result.exit_code == 0, result.output
    assert "Imported 2 new and 0 updated threads" in result.output
    assert "2 bad lines" in result.output
    assert "line 2: not valid JSON" in result.output
    assert "line 3: 'answers' must be a list" in result.output
    assert [h.title for h in run_search("pairing").hits] == [remote_thread()["title"]]


@pytest.mark.parametrize(
    ("author", "handle"),
    [("Mike In Mossley", "mike_in_mossley"), ("Zoë!!", "zo_user"), ("!!!", "anonymous")],
)
def test_unknown_authors_get_valid_member_names(app, author, handle):
    import_lines(lines(remote_thread() | {"author": author, "answers": []}), procs=1)

    assert db.session.scalar(select(Thread)).author.name == handle
