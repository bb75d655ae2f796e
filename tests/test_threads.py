"""Q&A operations without HTTP: ask, answer, comment, edit, vote, accept, flag, moderate."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.models import Answer, Comment, Flag, Tag, Thread, User, Vote
from kb.search import search
from kb.threads import (
    accept_answer,
    ask_thread,
    cast_vote,
    edit_answer,
    edit_thread,
    flag_post,
    get_thread,
    list_threads,
    post_answer,
    post_comment,
    resolve_flag,
    revisions_of,
    thread_page_data,
    unaccept_answer,
)

TITLE = "Hub 3 light is amber and nothing connects"
BODY = "Since this morning the light on my Hub 3 is amber and no device connects."
ANSWER = "Restart the hub by holding the power button for 10 seconds."
UNRENDERABLE = "[" * 20000


def row_counts() -> dict[str, int]:
    """Rows in every table, including anything added but not yet committed."""
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def reputation(user: User) -> int:
    """A user's reputation as stored now."""
    return db.session.scalar(select(User.reputation).where(User.id == user.id))


def score(model: type[Thread] | type[Answer], post_id: int) -> int:
    """A post's score as stored now."""
    return db.session.scalar(select(model.score).where(model.id == post_id))


# ---------------------------------------------------------------------------- ask


def test_ask_writes_thread_tags_and_first_revision(make_user):
    ann = make_user("ann")
    thread = ask_thread(ann, title=f"  {TITLE}  ", body=BODY, tags="Router, hub-3 router")

    assert thread.title == TITLE
    assert thread.tag_names == ["hub-3", "router"]
    assert "<p>" in thread.body_html
    assert thread.author_id == ann.id and thread.answer_count == 0 and not thread.solved
    [revision] = revisions_of("thread", thread.id)
    assert (revision.title, revision.tags, revision.body_md) == (TITLE, "router hub-3", BODY)
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2


def test_ask_reuses_existing_tags(make_user, make_thread):
    make_thread(tags=["wifi"])
    make_thread(tags=["wifi", "tv"])
    names = db.session.scalars(select(Tag.name).order_by(Tag.name)).all()
    assert names == ["tv", "wifi"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": "Too short"}, "title", "at least 10"),
        ({"title": "   Hub   3   "}, "title", "at least 10"),
        ({"title": "x" * 151}, "title", "at most 150"),
        ({"title": None}, "title", "at least 10"),
        ({"body": "Too short to help."}, "body", "at least 20"),
        ({"body": " " * 40 + "short" + "\n" * 40}, "body", "at least 20"),
        ({"body": "x" * 30_001}, "body", "under 30,000"),
        ({"body": ["not", "text"]}, "body", "at least 20"),
        ({"tags": []}, "tags", "at least one tag"),
        ({"tags": " , ,"}, "tags", "at least one tag"),
        ({"tags": ["a", "b", "c", "d", "e", "f"]}, "tags", "at most 5"),
        ({"tags": ["C++"]}, "tags", "not a valid tag"),
        ({"tags": ["wi_fi"]}, "tags", "not a valid tag"),
        ({"tags": ["-wifi"]}, "tags", "not a valid tag"),
        ({"tags": ["t" * 31]}, "tags", "not a valid tag"),
        ({"tags": ["wifi", 7]}, "tags", "not a valid tag"),
        ({"tags": "<script>"}, "tags", "not a valid tag"),
        ({"tags": 42}, "tags", "list of words"),
    ],
)
def test_ask_rejects_bad_input_and_writes_nothing(make_user, changes, field, message):
    ann = make_user("ann")
    before = row_counts()
    values: dict[str, Any] = {"title": TITLE, "body": BODY, "tags": ["router"], **changes}

    with pytest.raises(ValidationError) as info:
        ask_thread(ann, **values)

    assert info.value.field == field
    assert message in info.value.message
    assert row_counts() == before


@pytest.mark.parametrize(
    ("changes", "expected_tags"),
    [
        ({"title": "x" * 10}, ["router"]),
        ({"title": "x" * 150}, ["router"]),
        ({"body": "y" * 20}, ["router"]),
        ({"body": "y" * 30_000}, ["router"]),
        ({"tags": ["a", "b", "c", "d", "e"]}, ["a", "b", "c", "d", "e"]),
        ({"tags": "WiFi wifi,WIFI"}, ["wifi"]),
        ({"tags": ["hub-3", "5g"]}, ["5g", "hub-3"]),
    ],
)
def test_ask_accepts_the_edges_of_the_rules(make_user, changes, expected_tags):
    values: dict[str, Any] = {"title": TITLE, "body": BODY, "tags": ["router"], **changes}
    thread = ask_thread(make_user(), **values)
    assert db.session.get(Thread, thread.id).tag_names == expected_tags


# ------------------------------------------------------------- answer and comment


def test_answer_counts_and_keeps_a_revision(make_thread, make_user):
    thread = make_thread()
    bob = make_user("bob")
    answer = post_answer(thread, bob, body=ANSWER)

    assert answer.thread_id == thread.id and answer.author_id == bob.id
    assert db.session.get(Thread, thread.id).answer_count == 1
    [revision] = revisions_of("answer", answer.id)
    assert revision.body_md == ANSWER and revision.editor_id == bob.id


@pytest.mark.parametrize("body", ["Try again.", "", None, "   \n\t  ", "x" * 30_001])
def test_answer_with_bad_body_writes_nothing(make_thread, make_user, body):
    thread = make_thread()
    bob = make_user("bob")
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        post_answer(thread, bob, body=body)
    assert info.value.field == "body"
    assert row_counts() == before
    assert db.session.get(Thread, thread.id).answer_count == 0


def test_comments_on_question_and_answer(make_thread, make_answer, make_user):
    thread = make_thread()
    answer = make_answer(thread)
    carl = make_user("carl")
    on_question = post_comment(carl, thread, body="  Which   firmware   version?  ")
    on_answer = post_comment(carl, thread, body="That worked for me too.", answer=answer)

    assert on_question.body == "Which firmware version?" and on_question.answer_id is None
    assert on_answer.answer_id == answer.id
    comments = thread_page_data(thread, None)["comments"]
    assert [c.id for c in comments[None]] == [on_question.id]
    assert [c.id for c in comments[answer.id]] == [on_answer.id]


@pytest.mark.parametrize(
    ("body", "message"), [("ok", "at least 5"), ("x" * 601, "limited to 600"), (None, "at least 5")]
)
def test_bad_comment_writes_nothing(make_thread, make_user, body, message):
    thread = make_thread()
    carl = make_user("carl")
    before = row_counts()
    with pytest.raises(ValidationError, match=message):
        post_comment(carl, thread, body=body)
    assert row_counts() == before


def test_comment_on_an_answer_from_another_thread_is_refused(make_thread, make_answer, make_user):
    first, second = make_thread(), make_thread(title="Stream 4K remote stopped pairing")
    foreign = make_answer(second)
    carl = make_user("carl")
    before = row_counts()
    with pytest.raises(NotFound):
        post_comment(carl, first, body="This is on the wrong thread.", answer=foreign)
    assert row_counts() == before


# ----------------------------------------------------------------------- editing


def test_author_edits_own_question_and_every_revision_is_kept(make_user, make_thread):
    ann = make_user("ann")
    thread = make_thread(author=ann)
    new_body = BODY + "\n\nI also tried another cable."
    edit_thread(thread, ann, title="Hub 3 light stays amber", body=new_body, tags="router wifi")

    fresh = db.session.get(Thread, thread.id)
    assert fresh.title == "Hub 3 light stays amber"
    assert fresh.body_md == new_body and "another cable" in fresh.body_html
    assert fresh.tag_names == ["router", "wifi"]
    assert fresh.edited is not None
    old, new = revisions_of("thread", thread.id)
    assert (old.title, old.body_md, old.tags) == (TITLE, BODY, "router hub-3")
    assert (new.title, new.body_md, new.tags) == (
        "Hub 3 light stays amber",
        new_body,
        "router wifi",
    )
    assert new.editor_id == ann.id


def test_edit_that_changes_nothing_keeps_no_revision(make_user, make_thread):
    ann = make_user("ann")
    thread = make_thread(author=ann, tags=["hub-3", "router"])
    edit_thread(thread, ann, title=TITLE, body=BODY, tags="hub-3 router")
    assert len(revisions_of("thread", thread.id)) == 1
    assert db.session.get(Thread, thread.id).edited is None


def test_moderator_edits_any_post(make_user, make_thread, make_answer):
    mod = make_user("mia", role="moderator")
    thread = make_thread()
    answer = make_answer(thread)
    edit_answer(answer, mod, body=ANSWER + " Removed a phone number.")
    edit_thread(thread, mod, title=TITLE + " (edited)", body=BODY, tags="router")

    assert db.session.get(Answer, answer.id).body_md.endswith("Removed a phone number.")
    assert [r.editor_id for r in revisions_of("answer", answer.id)][-1] == mod.id
    assert db.session.get(Thread, thread.id).title.endswith("(edited)")


def test_member_cannot_edit_someone_elses_posts(make_user, make_thread, make_answer):
    thread = make_thread()
    answer = make_answer(thread)
    eve = make_user("eve")
    before = row_counts()

    with pytest.raises(PermissionDenied):
        edit_thread(thread, eve, title="Buy cheap watches here", body=BODY, tags="spam")
    with pytest.raises(PermissionDenied):
        edit_answer(answer, eve, body="Buy cheap watches at my shop today!")

    db.session.rollback()
    assert row_counts() == before
    assert db.session.get(Thread, thread.id).title == TITLE
    assert db.session.get(Answer, answer.id).body_md.startswith("Restart the hub")


def test_bad_edit_writes_nothing(make_user, make_thread):
    ann = make_user("ann")
    thread = make_thread(author=ann)
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        edit_thread(thread, ann, title=TITLE, body=BODY, tags="C++")
    assert info.value.field == "tags"
    db.session.rollback()
    assert row_counts() == before
    assert db.session.get(Thread, thread.id).tag_names == ["hub-3", "router"]


# ------------------------------------------------------- posts that cannot render


@pytest.mark.parametrize("operation", ["ask", "answer", "edit"])
def test_unrenderable_post_is_refused_and_writes_nothing(make_user, make_thread, operation):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    before = row_counts()

    with pytest.raises(ValidationError) as info:
        if operation == "ask":
            ask_thread(ann, title=TITLE, body=UNRENDERABLE, tags="router")
        elif operation == "answer":
            post_answer(thread, bob, body=UNRENDERABLE)
        else:
            edit_thread(thread, ann, title=TITLE, body=UNRENDERABLE, tags="router")

    assert info.value.field == "body"
    assert "could not be formatted in time" in info.value.message
    db.session.rollback()
    assert row_counts() == before
    assert db.session.get(Thread, thread.id).body_md == BODY
    # The renderer recovers: the next ordinary post goes through.
    assert post_answer(thread, bob, body=ANSWER).body_html.startswith("<p>")


# ------------------------------------------------------------------------- votes


@pytest.mark.parametrize(
    ("kind", "values", "final_score", "author_rep"),
    [
        ("answer", [1], 1, 10),
        ("answer", [-1], -1, -2),
        ("answer", [1, 1], 1, 10),
        ("answer", [1, -1], -1, -2),
        ("answer", [-1, 1], 1, 10),
        ("answer", [1, 0], 0, 0),
        ("answer", [-1, 0], 0, 0),
        ("answer", [1, -1, 0, 1], 1, 10),
        ("thread", [1], 1, 5),
        ("thread", [-1], -1, -2),
        ("thread", [1, -1], -1, -2),
        ("thread", [-1, 1], 1, 5),
        ("thread", [1, 0], 0, 0),
    ],
)
def test_vote_sequence_gives_score_and_reputation(
    make_user, make_thread, make_answer, kind, values, final_score, author_rep
):
    author, voter = make_user("ann"), make_user("vic")
    thread = make_thread(author=author)
    target = thread if kind == "thread" else make_answer(thread, author=author)
    target_id = target.id

    for value in values:
        returned = cast_vote(voter, kind, target_id, value)

    assert returned == final_score
    assert score(Thread if kind == "thread" else Answer, target_id) == final_score
    assert reputation(author) == author_rep
    assert reputation(voter) == 0
    votes = db.session.scalars(select(Vote.value).where(Vote.user_id == voter.id)).all()
    assert votes == ([values[-1]] if values[-1] else [])


def test_many_voters_add_up(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    answer = make_answer(thread, author=bob)
    voters = [make_user() for _ in range(5)]
    for voter, value in zip(voters, [1, 1, 1, -1, 1], strict=True):
        cast_vote(voter, "answer", answer.id, value)
        cast_vote(voter, "thread", thread.id, -value)

    assert score(Answer, answer.id) == 3
    assert score(Thread, thread.id) == -3
    assert reputation(bob) == 4 * 10 - 2
    assert reputation(ann) == 1 * 5 - 4 * 2


def test_cannot_vote_on_own_post(make_user, make_thread, make_answer):
    ann = make_user("ann")
    thread = make_thread(author=ann)
    answer = make_answer(thread, author=ann)
    before = row_counts()
    for kind, target_id in (("thread", thread.id), ("answer", answer.id)):
        with pytest.raises(PermissionDenied):
            cast_vote(ann, kind, target_id, 1)
    db.session.rollback()
    assert row_counts() == before
    assert reputation(ann) == 0


@pytest.mark.parametrize(
    ("kind", "target", "value", "error"),
    [
        ("thread", "thread", 2, ValidationError),
        ("answer", "answer", -5, ValidationError),
        ("comment", "thread", 1, NotFound),
        ("thread", "missing", 1, NotFound),
        ("answer", "missing", 1, NotFound),
    ],
)
def test_bad_votes_write_nothing(make_user, make_thread, make_answer, kind, target, value, error):
    thread = make_thread()
    ids = {"thread": thread.id, "answer": make_answer(thread).id, "missing": 999_999}
    voter = make_user("vic")
    before = row_counts()
    with pytest.raises(error):
        cast_vote(voter, kind, ids[target], value)
    db.session.rollback()
    assert row_counts() == before


def test_cannot_vote_on_a_hidden_post(make_user, make_thread, make_answer):
    thread = make_thread()
    answer = make_answer(thread)
    mod = make_user("mia", role="moderator")
    resolve_flag(flag_post(make_user(), "answer", answer.id, reason="This is spam."), mod, "hide")
    with pytest.raises(NotFound):
        cast_vote(make_user("vic"), "answer", answer.id, 1)
    assert score(Answer, answer.id) == 0


# ------------------------------------------------------------------------ accept


def test_asker_accepts_and_answerer_gains_15(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    answer = make_answer(thread, author=bob)
    cast_vote(ann, "answer", answer.id, 1)

    accept_answer(thread, answer, ann)
    accept_answer(thread, answer, ann)  # accepting again changes nothing

    assert db.session.get(Thread, thread.id).accepted_answer_id == answer.id
    assert db.session.get(Thread, thread.id).solved
    assert reputation(bob) == 10 + 15
    assert reputation(ann) == 0


def test_switching_the_accepted_answer_moves_the_15(make_user, make_thread, make_answer):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann)
    first, second = make_answer(thread, author=bob), make_answer(thread, author=cat)

    accept_answer(thread, first, ann)
    accept_answer(thread, second, ann)
    assert db.session.get(Thread, thread.id).accepted_answer_id == second.id
    assert (reputation(bob), reputation(cat)) == (0, 15)

    unaccept_answer(thread, ann)
    unaccept_answer(thread, ann)  # nothing accepted: nothing to take back
    assert db.session.get(Thread, thread.id).accepted_answer_id is None
    assert (reputation(bob), reputation(cat)) == (0, 0)


def test_accepting_your_own_answer_gives_no_reputation(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    own, other = make_answer(thread, author=ann), make_answer(thread, author=bob)

    accept_answer(thread, own, ann)
    assert reputation(ann) == 0
    accept_answer(thread, other, ann)
    assert (reputation(ann), reputation(bob)) == (0, 15)
    accept_answer(thread, own, ann)
    assert (reputation(ann), reputation(bob)) == (0, 0)


def test_moderator_may_accept(make_user, make_thread, make_answer):
    thread = make_thread()
    bob = make_user("bob")
    answer = make_answer(thread, author=bob)
    accept_answer(thread, answer, make_user("mia", role="moderator"))
    assert db.session.get(Thread, thread.id).accepted_answer_id == answer.id
    assert reputation(bob) == 15


def test_others_cannot_accept_or_unaccept(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    answer = make_answer(thread, author=bob)
    before = row_counts()
    with pytest.raises(PermissionDenied):
        accept_answer(thread, answer, bob)
    db.session.rollback()
    assert db.session.get(Thread, thread.id).accepted_answer_id is None
    assert reputation(bob) == 0

    accept_answer(thread, answer, ann)
    with pytest.raises(PermissionDenied):
        unaccept_answer(thread, make_user("eve"))
    db.session.rollback()
    assert db.session.get(Thread, thread.id).accepted_answer_id == answer.id
    assert reputation(bob) == 15
    assert row_counts()["answers"] == before["answers"]


def test_cannot_accept_an_answer_from_another_thread(make_user, make_thread, make_answer):
    ann = make_user("ann")
    mine = make_thread(author=ann)
    other = make_thread(title="Stream 4K remote stopped pairing", author=ann)
    foreign = make_answer(other)
    with pytest.raises(NotFound):
        accept_answer(mine, foreign, ann)
    db.session.rollback()
    assert db.session.get(Thread, mine.id).accepted_answer_id is None
    assert reputation(foreign.author) == 0


# --------------------------------------------------------------------- ordering


def test_answers_ordered_accepted_then_score_then_age(make_user, make_thread, make_answer):
    ann = make_user("ann")
    thread = make_thread(author=ann)
    oldest, older, middle, newer, newest = (make_answer(thread) for _ in range(5))
    voters = [make_user() for _ in range(2)]
    for voter in voters:
        cast_vote(voter, "answer", older.id, 1)
        cast_vote(voter, "answer", middle.id, 1)
    cast_vote(voters[0], "answer", oldest.id, -1)
    accept_answer(thread, newest, ann)

    answers = thread_page_data(db.session.get(Thread, thread.id), None)["answers"]
    assert [a.id for a in answers] == [newest.id, older.id, middle.id, newer.id, oldest.id]


# ---------------------------------------------------------- flags and moderation


def test_flag_then_hide_thread_hides_it_from_members_lists_and_search(make_user, make_thread):
    thread = make_thread(
        title="Cheap watches for sale here today", body="Visit my shop for cheap watches " * 3
    )
    assert search("watches").total == 1
    reporter, mod, member = make_user("rita"), make_user("mia", role="moderator"), make_user()
    flag = flag_post(reporter, "thread", thread.id, reason="  Spam   advert  ")
    second = flag_post(make_user(), "thread", thread.id, reason="Spam again")
    assert flag.reason == "Spam advert" and flag.status == "open"

    resolve_flag(flag, mod, "hide")

    assert db.session.get(Thread, thread.id).hidden
    assert {db.session.get(Flag, f.id).status for f in (flag, second)} == {"hidden"}
    assert db.session.get(Flag, flag.id).resolved_by_id == mod.id
    with pytest.raises(NotFound):
        get_thread(thread.id, member)
    with pytest.raises(NotFound):
        get_thread(thread.id, None)
    assert get_thread(thread.id, mod).id == thread.id
    assert list_threads()[0] == []
    assert search("watches").total == 0
    with pytest.raises(NotFound):
        post_answer(thread, member, body=ANSWER)


def test_hiding_an_answer(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    keep, spam = (
        make_answer(thread),
        make_answer(thread, body="Buy cheap watches at my shop today!", author=bob),
    )
    mod = make_user("mia", role="moderator")

    resolve_flag(flag_post(ann, "answer", spam.id, reason="Advert"), mod, "hide")

    thread = db.session.get(Thread, thread.id)
    assert thread.answer_count == 1
    assert [a.id for a in thread_page_data(thread, ann)["answers"]] == [keep.id]
    assert {a.id for a in thread_page_data(thread, mod)["answers"]} == {keep.id, spam.id}
    assert search("watches").total == 0


def test_hiding_the_accepted_answer_takes_back_its_15(make_user, make_thread, make_answer):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann)
    bad, good = make_answer(thread, author=bob), make_answer(thread, author=cat)
    accept_answer(thread, bad, ann)
    assert reputation(bob) == 15

    mod = make_user("mia", role="moderator")
    resolve_flag(flag_post(cat, "answer", bad.id, reason="Dangerous advice"), mod, "hide")
    assert db.session.get(Thread, thread.id).accepted_answer_id is None
    assert reputation(bob) == 0

    accept_answer(thread, good, ann)
    assert (reputation(bob), reputation(cat)) == (0, 15)


def test_dismiss_keeps_the_post(make_user, make_thread):
    thread = make_thread()
    mod = make_user("mia", role="moderator")
    flag = flag_post(make_user(), "thread", thread.id, reason="I don't like it")
    resolve_flag(flag, mod, "dismiss")
    assert db.session.get(Flag, flag.id).status == "dismissed"
    assert not db.session.get(Thread, thread.id).hidden
    assert [t.id for t in list_threads()[0]] == [thread.id]
    # Once resolved, the same person may flag again.
    assert flag_post(flag.reporter, "thread", thread.id, reason="Still wrong").status == "open"


def test_flag_comment(make_user, make_thread):
    thread = make_thread()
    comment = post_comment(make_user(), thread, body="You are all idiots here.")
    mod = make_user("mia", role="moderator")
    resolve_flag(
        flag_post(make_user(), "comment", comment.id, reason="Rude to everyone"), mod, "hide"
    )
    assert db.session.get(Comment, comment.id).hidden
    assert thread_page_data(thread, None)["comments"] == {}
    assert len(thread_page_data(thread, mod)["comments"][None]) == 1


@pytest.mark.parametrize(
    ("kind", "target", "reason", "error"),
    [
        ("thread", "thread", "bad", ValidationError),
        ("thread", "thread", "x" * 501, ValidationError),
        ("thread", "thread", None, ValidationError),
        ("thread", "missing", "Spam advert", NotFound),
        ("user", "thread", "Spam advert", NotFound),
    ],
)
def test_bad_flags_write_nothing(make_user, make_thread, kind, target, reason, error):
    thread = make_thread()
    ids = {"thread": thread.id, "missing": 424242}
    reporter = make_user("rita")
    before = row_counts()
    with pytest.raises(error):
        flag_post(reporter, kind, ids[target], reason=reason)
    assert row_counts() == before


def test_flagging_twice_is_refused(make_user, make_thread):
    thread = make_thread()
    rita = make_user("rita")
    flag_post(rita, "thread", thread.id, reason="Spam advert")
    before = row_counts()
    with pytest.raises(ValidationError, match="already flagged"):
        flag_post(rita, "thread", thread.id, reason="Spam advert, really")
    assert row_counts() == before


def test_only_moderators_resolve_and_only_hide_or_dismiss(make_user, make_thread):
    thread = make_thread()
    flag = flag_post(make_user(), "thread", thread.id, reason="Spam advert")
    with pytest.raises(PermissionDenied):
        resolve_flag(flag, make_user("eve"), "hide")
    with pytest.raises(ValidationError):
        resolve_flag(flag, make_user("mia", role="moderator"), "delete")
    db.session.rollback()
    assert db.session.get(Flag, flag.id).status == "open"
    assert not db.session.get(Thread, thread.id).hidden
