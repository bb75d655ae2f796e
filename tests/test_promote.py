"""Promoting a solved thread to an article: the draft, publishing, links, and export."""

from __future__ import annotations

import html as html_lib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kb.articles import load_articles, parse_article, promote_thread
from kb.db import db
from kb.errors import PermissionDenied, ValidationError
from kb.models import Article, Thread, User
from kb.search.service import run_search
from kb.threads import accept_answer, ask_thread, cast_vote, post_answer
from tests.conftest import login, post_form

QUESTION = "Every evening around eight the Wi-Fi drops for ten minutes, then comes back."
FIX = (
    "Move the hub away from the TV. Then set the Wi-Fi channel to 1 in the Skylark app, "
    "under **Settings > Wi-Fi**."
)
CONTENT_ARTICLE = """---
title: Reset your Skylark Mail password
slug: reset-mail-password
tags: email, password
summary: Forgotten your Skylark Mail password? Reset it from the sign-in page.
reviewed: 2026-05-04
---

Go to the sign-in page and choose **Forgot password**.

---

A line of dashes inside the body is not front matter.
"""


def visitor(app: Any, name: str | None = None) -> Any:
    """Another browser: a new client with its own cookies, logged in as `name` if given."""
    client = app.test_client()
    if name:
        login(client, name)
    return client


def text(response: Any) -> str:
    """A page's HTML with entities decoded."""
    return html_lib.unescape(response.get_data(as_text=True))


def path_of(thread: Thread) -> str:
    """The canonical path of a thread."""
    return f"/t/{thread.id}/{thread.slug}"


def articles() -> int:
    """Articles in the database."""
    return db.session.scalar(select(func.count(Article.id))) or 0


@pytest.fixture
def solved(make_user, make_thread, make_answer) -> Thread:
    """A solved thread: the accepted fix, an upvoted tip, and an answer nobody voted for."""
    asker, fixer, helper, chatter = (make_user(n) for n in ("asker", "fixer", "helper", "chatter"))
    make_user("sam", role="staff")
    make_user("member")
    thread = make_thread(
        title="Wi-Fi drops every evening at eight", body=QUESTION, tags=("wifi", "dropping"),
        author=asker,
    )  # fmt: skip
    accepted = make_answer(thread, body=FIX, author=fixer)
    tip = make_answer(thread, body="Mine was the microwave. Channel 11 fixed it.", author=helper)
    make_answer(thread, body="Same here, following this thread for news.", author=chatter)
    cast_vote(asker, "answer", tip.id, 1)
    accept_answer(thread, accepted, asker)
    return thread


# ---------------------------------------------------------------------- the draft


def test_staff_promote_a_solved_thread_to_a_prefilled_draft(app, solved):
    staff = visitor(app, "sam")

    response = post_form(staff, f"/t/{solved.id}/promote", {}, path_of(solved))

    article = db.session.scalar(select(Article).where(Article.from_thread_id == solved.id))
    assert article is not None
    assert response.status_code == 302
    assert response.headers["Location"] == f"/a/{article.slug}/edit"
    assert article.slug == "wi-fi-drops-every-evening-at-eight"
    assert (article.published, article.source) == (False, "promoted")
    assert article.title == solved.title
    assert article.body_md == f"## The problem\n\n{QUESTION}\n\n## What worked\n\n{FIX}\n"
    assert article.summary == "Move the hub away from the TV."
    assert article.tag_names == ["dropping", "wifi"]
    assert article.credits.split() == ["asker", "fixer", "helper"]  # not the zero-score answer
    assert "<strong>Settings &gt; Wi-Fi</strong>" in article.body_html

    edit = text(staff.get(f"/a/{article.slug}/edit"))
    assert "Draft article" in edit
    assert f'From the solved thread <a href="{path_of(solved)}">{solved.title}</a>' in edit
    assert "contributors credited: asker, fixer, helper" in edit
    assert "## What worked" in edit


def test_the_draft_is_hidden_from_everyone_but_staff(app, solved):
    article = promote_thread(solved, _staff())
    path = f"/a/{article.slug}"

    assert visitor(app).get(path).status_code == 404
    assert visitor(app, "member").get(path).status_code == 404
    staff_page = text(visitor(app, "sam").get(path))
    assert "Draft." in staff_page and "Only staff can see this article" in staff_page
    assert solved.title not in text(visitor(app).get("/articles"))
    assert run_search("evening wifi drops", kind="article").hits == []
    assert "This solution is now a help article" not in text(visitor(app).get(path_of(solved)))


def _staff() -> User:
    """The staff member the fixture made."""
    return db.session.scalar(select(User).where(User.name == "sam"))


def test_promoting_twice_gives_the_same_draft(solved):
    first = promote_thread(solved, _staff())

    assert promote_thread(solved, _staff()).id == first.id
    assert articles() == 1


# ---------------------------------------------------------------------- publishing


def publish_form(article: Article, **changes: str) -> dict[str, str]:
    """The edit form as staff submit it to publish."""
    return {
        "title": "Stop the Wi-Fi dropping every evening",
        "summary": "Move the hub away from the TV and pick Wi-Fi channel 1.",
        "body": article.body_md,
        "tags": "wifi dropping",
        "publish": "1",
        **changes,
    }


def test_publishing_through_the_edit_form(app, solved):
    article = promote_thread(solved, _staff())
    staff = visitor(app, "sam")
    edit = f"/a/{article.slug}/edit"

    response = post_form(staff, edit, publish_form(article), edit)

    assert response.status_code == 302 and response.headers["Location"] == f"/a/{article.slug}"
    db.session.refresh(article)
    assert article.published and article.reviewed is not None
    assert article.title == "Stop the Wi-Fi dropping every evening"
    page = text(visitor(app).get(f"/a/{article.slug}"))
    assert "Stop the Wi-Fi dropping every evening" in page and "Draft." not in page
    for name in ("asker", "fixer", "helper"):
        assert f'<a href="/u/{name}">{name}</a>' in page
    assert f'Based on the community thread <a href="{path_of(solved)}">{solved.title}</a>' in page
    thread_page = text(visitor(app).get(path_of(solved)))
    assert "This solution is now a help article:" in thread_page
    assert f'<a href="/a/{article.slug}">Stop the Wi-Fi dropping every evening</a>' in thread_page
    assert "Turn into a help article" not in text(staff.get(path_of(solved)))
    hits = run_search("stop wifi dropping evening", kind="article").hits
    assert [(h.kind, h.db_id) for h in hits] == [("article", article.id)]


def test_saving_a_draft_keeps_it_hidden_and_bad_input_is_refused(app, solved):
    article = promote_thread(solved, _staff())
    staff = visitor(app, "sam")
    edit = f"/a/{article.slug}/edit"
    draft = {k: v for k, v in publish_form(article).items() if k != "publish"}

    assert post_form(staff, edit, draft, edit).status_code == 302
    db.session.refresh(article)
    assert not article.published and article.title == "Stop the Wi-Fi dropping every evening"

    refused = post_form(staff, edit, publish_form(article, summary="Too short"), edit)

    assert refused.status_code == 400
    assert "Write a summary of 10 to 300 characters." in text(refused)
    db.session.refresh(article)
    assert not article.published
    assert visitor(app).get(f"/a/{article.slug}").status_code == 404


def test_members_cannot_promote_or_edit(app, solved):
    member = visitor(app, "member")

    assert post_form(member, f"/t/{solved.id}/promote", {}, path_of(solved)).status_code == 403
    assert articles() == 0
    assert "Turn into a help article" not in text(member.get(path_of(solved)))
    with pytest.raises(PermissionDenied):
        promote_thread(solved, solved.author)
    article = promote_thread(solved, _staff())
    assert member.get(f"/a/{article.slug}/edit").status_code == 403
    assert post_form(member, f"/a/{article.slug}/edit", publish_form(article)).status_code == 403
    db.session.refresh(article)
    assert not article.published


def test_an_unsolved_thread_cannot_be_promoted(app, solved, make_thread):
    unsolved = make_thread(title="Hub restarts itself every night")
    staff = visitor(app, "sam")

    with pytest.raises(ValidationError, match="Only solved threads"):
        promote_thread(unsolved, _staff())
    response = post_form(staff, f"/t/{unsolved.id}/promote", {}, path_of(unsolved))

    assert response.status_code == 302 and response.headers["Location"] == path_of(unsolved)
    assert "Only solved threads can become articles." in text(staff.get(path_of(unsolved)))
    assert articles() == 0


# ---------------------------------------------------------------------- export


def test_export_round_trips_published_articles_and_skips_drafts(app, runner, solved, tmp_path):
    content = Path(app.config["CONTENT_DIR"])
    content.mkdir(parents=True, exist_ok=True)
    (content / "reset-mail-password.md").write_text(CONTENT_ARTICLE, encoding="utf-8")
    load_articles(content)
    promoted = promote_thread(solved, _staff())
    staff = visitor(app, "sam")
    edit = f"/a/{promoted.slug}/edit"
    post_form(staff, edit, publish_form(promoted, summary="Move the hub.\nPick channel 1."), edit)
    draft = promote_thread(_second_solved(solved.author), _staff())
    out = tmp_path / "exported"

    result = runner.invoke(args=["export-articles", str(out)])

    assert result.exit_code == 0, result.output
    assert f"Wrote 2 articles to {out}." in result.output
    files = sorted(p.name for p in out.glob("*.md"))
    assert files == ["reset-mail-password.md", f"{promoted.slug}.md"]  # the slug stays
    assert f"{draft.slug}.md" not in files
    for article in db.session.scalars(select(Article).where(Article.published.is_(True))):
        parsed = parse_article((out / f"{article.slug}.md").read_text("utf-8"), article.slug)
        assert parsed.slug == article.slug and parsed.title == article.title
        assert parsed.summary == article.summary and parsed.tags == article.tag_names
        assert parsed.body == article.body_md.strip()
        assert parsed.reviewed is not None and parsed.reviewed.date() == article.reviewed.date()
    assert load_articles(out)["unchanged"] == 1  # the content/ article comes back identical


def _second_solved(author: User) -> Thread:
    """Another solved thread, asked by `author`."""
    thread = ask_thread(
        author, title="Stream 4K remote stopped pairing", tags=["tv"],
        body="The remote for my Stream 4K box stopped pairing after new batteries.",
    )  # fmt: skip
    answer = post_answer(thread, _staff(), body="Hold home and back for five seconds to pair.")
    accept_answer(thread, answer, author)
    return thread
