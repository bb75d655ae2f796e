"""Duplicates: who may close them, what the closed thread shows, and what search does."""

from __future__ import annotations

import html as html_lib
from typing import Any

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.duplicates import REPUTATION_TO_VOTE, duplicate_votes, unmark_duplicate, vote_duplicate
from kb.errors import PermissionDenied, ValidationError
from kb.models import Answer, DuplicateVote, Thread
from kb.search.indexer import process_pending
from kb.search.service import match, run_search
from kb.threads import accept_answer, post_answer
from tests.conftest import login, post_form

# The duplicate asks the same thing in words the original never uses.
ORIGINAL_TITLE = "Hub 3 light is amber and nothing connects"
ORIGINAL_BODY = "Since this morning the light on my Hub 3 is amber and no device connects."
DUPLICATE_TITLE = "Modem glowing orange, zero internet"
DUPLICATE_BODY = "My modem has been glowing orange since breakfast and there is zero internet."
ONLY_IN_DUPLICATE = "modem glowing orange breakfast"
ANSWER = "Amber means there is no signal from the line. Restart the fibre box first."


def text(response: Any) -> str:
    """A page's HTML with entities decoded."""
    return html_lib.unescape(response.get_data(as_text=True))


def path_of(thread: Thread) -> str:
    """The canonical path of a thread."""
    return f"/t/{thread.id}/{thread.slug}"


@pytest.fixture
def pair(app, make_user, make_thread, make_answer) -> dict[str, Any]:
    """A solved original and a later question that duplicates it in other words."""
    app.config["INDEX_SYNC"] = False  # index both in one batch: quicker
    asker = make_user("asker")
    original = make_thread(
        title=ORIGINAL_TITLE, body=ORIGINAL_BODY, tags=("hub-3", "lights"), author=asker
    )
    accept_answer(original, make_answer(original, body=ANSWER), asker)
    duplicate = make_thread(title=DUPLICATE_TITLE, body=DUPLICATE_BODY, tags=("wifi",))
    process_pending()
    app.config["INDEX_SYNC"] = True
    return {"original": original, "duplicate": duplicate}


@pytest.fixture
def trusted(make_user) -> Any:
    """Make members with enough reputation to vote: trusted('a', 'b')."""

    def make(*names: str) -> list[Any]:
        users = [make_user(name) for name in names]
        for user in users:
            user.reputation = REPUTATION_TO_VOTE
        db.session.commit()
        return users

    return make


def votes_stored() -> int:
    """Duplicate votes in the database."""
    return db.session.scalar(select(func.count(DuplicateVote.id))) or 0


# ---------------------------------------------------------------- who may close


def test_a_moderator_closes_a_duplicate_at_once(pair, make_user):
    mod = make_user("mia", role="moderator")

    assert vote_duplicate(pair["duplicate"], pair["original"], mod) is True

    assert pair["duplicate"].duplicate_of_id == pair["original"].id
    assert votes_stored() == 0


def test_members_below_the_reputation_threshold_may_not_vote(pair, make_user):
    member = make_user("newbie")
    member.reputation = REPUTATION_TO_VOTE - 1
    db.session.commit()

    with pytest.raises(PermissionDenied, match="reputation"):
        vote_duplicate(pair["duplicate"], pair["original"], member)

    assert pair["duplicate"].duplicate_of_id is None and votes_stored() == 0


def test_three_trusted_members_close_it(pair, trusted):
    ann, bob, cat = trusted("ann", "bob", "cat")
    duplicate, original = pair["duplicate"], pair["original"]

    assert vote_duplicate(duplicate, original, ann) is False
    assert vote_duplicate(duplicate, original, ann) is False  # voting again counts once
    assert vote_duplicate(duplicate, original, bob) is False
    assert duplicate.duplicate_of_id is None
    assert duplicate_votes(duplicate) == [(original.id, 2)]

    assert vote_duplicate(duplicate, original, cat) is True

    assert duplicate.duplicate_of_id == original.id


def test_votes_for_different_originals_do_not_add_up(pair, trusted, make_thread):
    ann, bob, cat = trusted("ann", "bob", "cat")
    elsewhere = make_thread(title="Another thread about an amber light")
    duplicate = pair["duplicate"]

    vote_duplicate(duplicate, pair["original"], ann)
    vote_duplicate(duplicate, pair["original"], bob)
    assert vote_duplicate(duplicate, elsewhere, cat) is False

    assert duplicate.duplicate_of_id is None
    assert sorted(duplicate_votes(duplicate)) == sorted(
        [(pair["original"].id, 2), (elsewhere.id, 1)]
    )


def test_a_thread_cannot_duplicate_itself_or_close_twice(pair, make_user):
    mod = make_user("mia", role="moderator")
    duplicate = pair["duplicate"]

    with pytest.raises(ValidationError):
        vote_duplicate(duplicate, duplicate, mod)
    vote_duplicate(duplicate, pair["original"], mod)
    with pytest.raises(ValidationError, match="already closed"):
        vote_duplicate(duplicate, pair["original"], mod)


def test_closing_into_a_duplicate_points_at_its_original(pair, make_user, make_thread):
    mod = make_user("mia", role="moderator")
    third = make_thread(title="Orange modem light again today")
    vote_duplicate(pair["duplicate"], pair["original"], mod)

    vote_duplicate(third, pair["duplicate"], mod)

    assert third.duplicate_of_id == pair["original"].id


# ---------------------------------------------------------------- the closed thread


def test_the_duplicate_shows_a_banner_and_refuses_answers(client, pair, make_user):
    make_user("mia", role="moderator")
    login(client, "mia")
    duplicate, original = pair["duplicate"], pair["original"]

    closed = post_form(
        client, f"/t/{duplicate.id}/duplicate", {"original": path_of(original)}, path_of(duplicate)
    )

    assert closed.status_code == 302
    assert duplicate.duplicate_of_id == original.id
    page = text(client.get(path_of(duplicate)))
    assert "This question has been asked before." in page
    assert f'<a href="{path_of(original)}">{ORIGINAL_TITLE}</a>' in page
    assert "Answers are closed here." in page
    assert "answer-body" not in page and "Post your answer" not in page
    assert "Reopen (undo duplicate)" in page  # for moderators

    refused = post_form(
        client, f"/t/{duplicate.id}/answer", {"body": "Try turning it off and on again, please."},
        path_of(original),
    )  # fmt: skip

    assert refused.status_code == 400
    assert "closed as a duplicate: please answer the original" in text(refused)
    assert (
        db.session.scalar(select(func.count(Answer.id)).where(Answer.thread_id == duplicate.id))
        == 0
    )


def test_posting_an_answer_to_a_duplicate_is_refused_by_the_operation(pair, make_user):
    vote_duplicate(pair["duplicate"], pair["original"], make_user("mia", role="moderator"))

    with pytest.raises(ValidationError, match="duplicate"):
        post_answer(pair["duplicate"], make_user(), body="Unplug it for a minute and try again.")


def test_a_member_without_reputation_gets_a_message_not_a_closure(client, pair, make_user):
    make_user("newbie")
    login(client, "newbie")
    duplicate = pair["duplicate"]

    page = text(client.get(path_of(duplicate)))
    assert "Close as a duplicate" not in page

    response = post_form(
        client, f"/t/{duplicate.id}/duplicate", {"original": path_of(pair["original"])},
        path_of(duplicate),
    )  # fmt: skip

    assert response.status_code == 302
    assert f"You need {REPUTATION_TO_VOTE} reputation" in text(client.get(path_of(duplicate)))
    assert duplicate.duplicate_of_id is None and votes_stored() == 0


def test_a_trusted_member_votes_by_pasting_a_link_to_an_answer(client, pair, trusted):
    trusted("ann")
    duplicate, original = pair["duplicate"], pair["original"]
    login(client, "ann")
    link = f"https://kb.skylark.example{path_of(original)}#answer-{original.accepted_answer_id}"

    post_form(client, f"/t/{duplicate.id}/duplicate", {"original": link}, path_of(duplicate))

    page = text(client.get(path_of(duplicate)))
    assert "Your duplicate vote is counted." in page
    assert f"thread {original.id} (1/3)" in page and "Vote to close" in page
    assert duplicate_votes(duplicate) == [(original.id, 1)]

    post_form(client, f"/t/{duplicate.id}/duplicate", {"original": "https://evil.example/t/1"},
              path_of(duplicate))  # fmt: skip

    assert "Paste a link to a thread or an answer on this site." in text(
        client.get(path_of(duplicate))
    )
    assert duplicate_votes(duplicate) == [(original.id, 1)]


# ---------------------------------------------------------------- search


def found(query: str) -> list[int]:
    """Thread ids `match` returns for a query, best first."""
    return [hit["id"] for hit in match(query, limit=10) if hit["kind"] == "thread"]


def test_search_shows_the_original_instead_of_the_duplicate(pair, make_user):
    duplicate, original = pair["duplicate"], pair["original"]
    vote_duplicate(duplicate, original, make_user("mia", role="moderator"))

    hits = run_search(DUPLICATE_TITLE).hits

    ids = [(h.kind, h.db_id) for h in hits]
    assert ids[0] == ("thread", original.id)
    assert ("thread", duplicate.id) not in ids


def test_the_duplicates_wording_finds_the_original_only_after_marking(client, pair, make_user):
    duplicate, original = pair["duplicate"], pair["original"]
    mod = make_user("mia", role="moderator")

    assert found(ONLY_IN_DUPLICATE) == [duplicate.id]
    before = text(client.get("/search", query_string={"q": ONLY_IN_DUPLICATE}))
    assert path_of(duplicate) in before and path_of(original) not in before

    vote_duplicate(duplicate, original, mod)

    assert found(ONLY_IN_DUPLICATE) == [original.id]
    after = text(client.get("/search", query_string={"q": ONLY_IN_DUPLICATE}))
    assert path_of(original) in after and path_of(duplicate) not in after

    unmark_duplicate(duplicate, mod)

    assert found(ONLY_IN_DUPLICATE) == [duplicate.id]
    undone = text(client.get("/search", query_string={"q": ONLY_IN_DUPLICATE}))
    assert path_of(duplicate) in undone and path_of(original) not in undone


# ---------------------------------------------------------------- undo


def test_reopening_restores_everything(client, pair, trusted, make_user):
    ann, bob, cat = trusted("ann", "bob", "cat")
    duplicate, original = pair["duplicate"], pair["original"]
    for user in (ann, bob, cat):
        vote_duplicate(duplicate, original, user)
    assert duplicate.duplicate_of_id == original.id
    make_user("mia", role="moderator")

    login(client, "ann")
    refused = post_form(client, f"/t/{duplicate.id}/reopen", {}, path_of(duplicate))
    assert refused.status_code == 403 and duplicate.duplicate_of_id == original.id

    post_form(client, "/logout", {})
    login(client, "mia")
    reopened = post_form(client, f"/t/{duplicate.id}/reopen", {}, path_of(duplicate))

    assert reopened.status_code == 302
    db.session.refresh(duplicate)
    assert duplicate.duplicate_of_id is None
    assert votes_stored() == 0 and duplicate_votes(duplicate) == []
    page = text(client.get(path_of(duplicate)))
    assert "This question has been asked before." not in page
    assert "Post your answer" in page
    assert found(DUPLICATE_TITLE)[0] == duplicate.id
    body = {"body": "Check the fibre box lights before anything."}
    answered = post_form(client, f"/t/{duplicate.id}/answer", body, path_of(duplicate))
    assert answered.status_code == 302


def test_only_moderators_reopen(pair, make_user, trusted):
    (ann,) = trusted("ann")
    vote_duplicate(pair["duplicate"], pair["original"], make_user("mia", role="moderator"))

    with pytest.raises(PermissionDenied):
        unmark_duplicate(pair["duplicate"], ann)

    assert pair["duplicate"].duplicate_of_id == pair["original"].id
