"""'Was this helpful?': recording answers, who sees counts, the bounded boost, review flags."""

from __future__ import annotations

import html as html_lib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from kb.articles import load_articles
from kb.db import db
from kb.errors import NotFound
from kb.feedback import MAX_BOOST, boost, counts, needs_review, record_feedback
from kb.models import Article, Feedback, utcnow
from kb.search import queue_index
from kb.search.indexer import quality_boosts
from kb.search.service import match, run_search
from kb.threads import accept_answer
from tests.conftest import login, post_form

ARTICLE = """---
title: Set up the Stream 4K box
slug: set-up-stream-4k
tags: tv, stream-4k
summary: Connect the Stream 4K box to your TV and your Wi-Fi in ten minutes.
---

Plug the box into the TV with the HDMI cable and follow the steps on screen.
"""


def visitor(app: Any) -> Any:
    """Another browser: a new client with its own cookies."""
    return app.test_client()


def text(response: Any) -> str:
    """A page's HTML with entities decoded."""
    return html_lib.unescape(response.get_data(as_text=True))


def rows() -> int:
    """Feedback rows stored."""
    return db.session.scalar(select(func.count(Feedback.id))) or 0


@pytest.fixture
def article(app) -> Article:
    """A published article loaded from content/."""
    content = Path(app.config["CONTENT_DIR"])
    content.mkdir(parents=True, exist_ok=True)
    (content / "set-up-stream-4k.md").write_text(ARTICLE, encoding="utf-8")
    load_articles(content)
    return db.session.scalar(select(Article).where(Article.slug == "set-up-stream-4k"))


@pytest.fixture
def solve(make_user, make_thread, make_answer) -> Any:
    """Ask and solve a thread: solve(title=..., body=..., answer=...)."""

    def make(
        title: str = "Wi-Fi drops every evening at eight",
        body: str = "The Wi-Fi drops every evening around eight and comes back after an hour.",
        answer: str = "Move the hub away from the TV and set the Wi-Fi channel to 1 in the app.",
        tags: tuple[str, ...] = ("wifi",),
    ) -> Any:
        asker = make_user()
        thread = make_thread(title=title, body=body, tags=tags, author=asker)
        accept_answer(thread, make_answer(thread, body=answer), asker)
        return thread

    return make


def give(client: Any, kind: str, target_id: int, helpful: str, reason: str = "") -> Any:
    """Answer 'was this helpful?' through the form, as a visitor who is not logged in."""
    data = {"helpful": helpful, "reason": reason}
    return post_form(client, f"/feedback/{kind}/{target_id}", data, "/login")


# ------------------------------------------------------------------ recording


def test_yes_and_no_with_a_reason_on_an_article_and_a_solved_thread(client, article, solve):
    thread = solve()

    on_article = give(client, "article", article.id, "no", "  The HDMI\nstep is missing.  ")
    on_thread = give(client, "thread", thread.id, "yes")

    assert on_article.status_code == 302 and on_article.headers["Location"] == "/a/set-up-stream-4k"
    assert on_thread.status_code == 302
    assert on_thread.headers["Location"] == f"/t/{thread.id}/{thread.slug}"
    stored = db.session.scalars(select(Feedback).order_by(Feedback.id)).all()
    assert [(f.target_kind, f.target_id, f.helpful, f.reason, f.user_id) for f in stored] == [
        ("article", article.id, False, "The HDMI step is missing.", None),
        ("thread", thread.id, True, "", None),
    ]
    assert counts("article", article.id) == (0, 1) and counts("thread", thread.id) == (1, 0)


def test_feedback_is_only_for_published_articles_and_solved_threads(
    client, article, solve, make_thread
):
    unsolved = make_thread(title="Nobody has answered this one yet")
    article.published = False
    db.session.commit()

    assert give(client, "thread", unsolved.id, "yes").status_code == 404
    assert give(client, "article", article.id, "yes").status_code == 404
    assert give(client, "article", 999999, "yes").status_code == 404
    assert give(client, "thread", 999999, "yes").status_code == 404
    assert give(client, "answer", 1, "yes").status_code == 400
    assert give(client, "thread", solve().id, "maybe").status_code == 400
    assert rows() == 0
    with pytest.raises(NotFound):
        record_feedback("thread", unsolved.id, helpful=True, reason="", user=None)


def test_a_reason_over_500_characters_is_refused(client, solve):
    thread = solve()

    response = give(client, "thread", thread.id, "no", "x" * 501)

    assert response.status_code == 302 and rows() == 0
    assert "Keep the reason under 500 characters." in text(client.get(response.headers["Location"]))


def test_an_anonymous_double_submit_is_ignored(app, article):
    client = visitor(app)
    give(client, "article", article.id, "yes")
    again = give(client, "article", article.id, "no")

    assert rows() == 1 and counts("article", article.id) == (1, 0)
    page = text(client.get(again.headers["Location"]))
    assert "Thanks, we already have your answer." in page
    assert "Thanks for your answer." in page and 'name="helpful"' not in page

    give(visitor(app), "article", article.id, "no")  # someone else, another session

    assert counts("article", article.id) == (1, 1)


def test_a_members_later_answer_replaces_the_earlier_one(client, solve, make_user):
    thread = solve()
    member = make_user("ann")

    record_feedback("thread", thread.id, helpful=True, reason="", user=member)
    record_feedback("thread", thread.id, helpful=False, reason="Did not work", user=member)

    assert rows() == 1 and counts("thread", thread.id) == (0, 1)


def test_counts_are_shown_to_staff_only(app, article, solve, make_user):
    thread = solve()
    client = visitor(app)
    give(client, "article", article.id, "yes")
    give(client, "thread", thread.id, "no")
    make_user("member")
    make_user("sam", role="staff")
    thread_path = f"/t/{thread.id}/{thread.slug}"

    anonymous = visitor(app)
    assert "Helpful:" not in text(anonymous.get("/a/set-up-stream-4k"))
    assert "Staff:" not in text(anonymous.get(thread_path))

    member = visitor(app)
    login(member, "member")
    assert "Helpful:" not in text(member.get("/a/set-up-stream-4k"))
    assert "Staff:" not in text(member.get(thread_path))
    assert member.get("/staff/feedback").status_code == 403

    staff = visitor(app)
    login(staff, "sam")
    assert "Helpful: 1 yes, 0 no" in text(staff.get("/a/set-up-stream-4k"))
    assert "Staff: 0 yes, 1 no." in text(staff.get(thread_path))


# ------------------------------------------------------------------ the boost


@pytest.mark.parametrize(
    ("yes", "no", "clicks", "expected"),
    [
        (0, 0, 0, 0.0),
        (1, 0, 0, 0.01),
        (0, 1, 0, -0.01),
        (5, 5, 0, 0.0),
        (0, 0, 50, 0.0762),
    ],
)
def test_boost_values(yes, no, clicks, expected):
    assert boost(yes, no, clicks) == pytest.approx(expected, abs=1e-3)


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
)
def test_boost_never_exceeds_a_tenth_either_way(yes, no, clicks):
    value = boost(yes, no, clicks)

    assert -MAX_BOOST <= value <= MAX_BOOST
    assert boost(yes + 1, no, clicks) >= value >= boost(yes, no + 1, clicks)


def flood(kind: str, target_id: int, helpful: bool, n: int = 1000) -> None:
    """Store n answers at once, then reindex the item."""
    row = {"target_kind": kind, "target_id": target_id, "helpful": helpful, "reason": ""}
    db.session.execute(insert(Feedback), [{**row, "created": utcnow()} for _ in range(n)])
    queue_index(kind, target_id)
    db.session.commit()


def test_huge_feedback_never_outranks_relevance(app, solve, article):
    relevant = solve()
    weak = solve(
        title="Stream 4K remote stops pairing",
        body="The remote stops pairing with the box every evening after the TV goes to sleep.",
        answer="Hold the home and back buttons for five seconds to pair it again.",
        tags=("tv",),
    )
    query = "wifi drops every evening"
    assert [h.db_id for h in run_search(query).hits if h.kind == "thread"][:2] == [
        relevant.id,
        weak.id,
    ]

    flood("thread", weak.id, helpful=True)
    flood("article", article.id, helpful=True)  # shares no word with the query
    flood("thread", relevant.id, helpful=False)

    assert quality_boosts(db.session, "thread", [relevant.id, weak.id]) == {
        relevant.id: -MAX_BOOST,
        weak.id: MAX_BOOST,
    }
    hits = run_search(query).hits
    assert [(h.kind, h.db_id) for h in hits] == [("thread", relevant.id), ("thread", weak.id)]
    top, second = hits
    assert top.score == pytest.approx(top.text_score * (1 + 0.25 - MAX_BOOST))
    assert second.score == pytest.approx(second.text_score * (1 + 0.25 + MAX_BOOST))
    matched = [(m["kind"], m["id"]) for m in match(query, limit=10)]
    assert matched[0] == ("thread", relevant.id)
    assert ("article", article.id) not in matched


# ------------------------------------------------------------------ review flags


def test_a_recent_no_flags_the_article_until_it_is_reviewed(app, article, make_user):
    client = visitor(app)
    make_user("sam", role="staff")
    give(client, "article", article.id, "no", "The HDMI step is missing <script>x()</script>")
    staff = visitor(app)
    login(staff, "sam")

    page = text(staff.get("/staff/feedback"))
    review = page.split('id="review-heading"')[1].split('id="counts-heading"')[0]
    assert "Set up the Stream 4K box" in review and "The HDMI step is missing" in review
    assert "<script>x()</script>" not in staff.get("/staff/feedback").get_data(as_text=True)
    assert "Flagged for review" in text(staff.get("/a/set-up-stream-4k"))
    assert "Flagged for review" not in text(visitor(app).get("/a/set-up-stream-4k"))

    reviewed = post_form(staff, "/a/set-up-stream-4k/reviewed", {}, "/a/set-up-stream-4k")

    assert reviewed.status_code == 302
    assert article.reviewed is not None
    assert "Flagged for review" not in text(staff.get("/a/set-up-stream-4k"))
    assert "Nothing flagged" in text(staff.get("/staff/feedback"))

    give(visitor(app), "article", article.id, "no", "Still wrong after the review")

    assert "Flagged for review" in text(staff.get("/a/set-up-stream-4k"))


def test_solved_threads_with_a_no_are_flagged_and_old_or_yes_answers_are_not(solve, article):
    flagged, happy, old = (
        solve(),
        solve(title="Hub restarts itself at night"),
        solve(title="Email app asks for my password again"),
    )
    record_feedback("thread", flagged.id, helpful=False, reason="Channel 1 is busy too", user=None)
    record_feedback("thread", happy.id, helpful=True, reason="", user=None)
    stale = record_feedback("thread", old.id, helpful=False, reason="", user=None)
    stale.created = utcnow() - timedelta(days=31)
    db.session.commit()

    review = needs_review()

    assert [(i["kind"], i["target"].id, i["no"]) for i in review] == [("thread", flagged.id, 1)]
    assert review[0]["reasons"] == ["Channel 1 is busy too"]


def test_the_feedback_page_is_for_staff(app, client, make_user):
    assert client.get("/staff/feedback").status_code == 302  # to the login page
    make_user("member")
    login(client, "member")
    assert client.get("/staff/feedback").status_code == 403
    assert post_form(client, "/a/set-up-stream-4k/reviewed", {}).status_code == 403
