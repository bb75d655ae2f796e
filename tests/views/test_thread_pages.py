"""Pages people read: lists, tags, threads, users, articles, history, moderation."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.articles import load_articles
from kb.db import db
from kb.models import Flag, Thread, utcnow
from kb.threads import (
    accept_answer,
    ask_thread,
    cast_vote,
    edit_answer,
    edit_thread,
    flag_post,
    post_answer,
    resolve_flag,
)
from tests.conftest import login, post_form

BODY = "Since this morning the light on my Hub 3 is amber and no device connects."
ANSWER = "Restart the hub by holding the power button for 10 seconds."


def text(response) -> str:
    """The page's HTML with entities decoded, for reading its words."""
    return html_lib.unescape(response.get_data(as_text=True))


def path_of(thread: Thread) -> str:
    """The canonical path of a thread."""
    return f"/t/{thread.id}/{thread.slug}"


# ---------------------------------------------------------------- lists


def test_home_tabs_show_the_right_threads(client, make_user, make_thread, make_answer):
    ann = make_user("ann")
    waiting = make_thread(title="Waiting for somebody to answer", author=ann)
    answered = make_thread(title="Answered but not solved yet", author=ann)
    solved = make_thread(title="Solved by a helpful neighbour", author=ann)
    make_answer(answered)
    accept_answer(solved, make_answer(solved), ann)
    hidden = make_thread(title="Hidden spam about cheap watches")
    mod = make_user("mia", role="moderator")
    resolve_flag(flag_post(ann, "thread", hidden.id, reason="Spam advert"), mod, "hide")
    titles = [t.title for t in (waiting, answered, solved, hidden)]

    def shown(query: str) -> set[str]:
        response = client.get(f"/{query}")
        assert response.status_code == 200
        page = text(response)
        return {title for title in titles if title in page}

    assert shown("") == {waiting.title, answered.title, solved.title}
    assert shown("?tab=recent") == shown("")
    assert shown("?tab=unanswered") == {waiting.title}
    assert shown("?tab=solved") == {solved.title}
    assert shown("?tab=<script>") == shown("")
    solved_page = text(client.get("/?tab=solved"))
    assert "Solved questions" in solved_page and 'class="badge solved">Solved<' in solved_page


def test_tag_page_lists_only_that_tag(client, make_thread, make_answer):
    wifi = make_thread(title="Wi-Fi drops every night at ten", tags=["wifi", "hub-3"])
    tv = make_thread(title="Stream 4K remote stopped pairing", tags=["tv"])
    make_answer(wifi)

    page = text(client.get("/tags/wifi"))
    assert "Questions tagged" in page and wifi.title in page and tv.title not in page
    assert wifi.title not in text(client.get("/tags/wifi?tab=unanswered"))
    assert tv.title in text(client.get("/tags/tv?tab=unanswered&page=abc"))

    tags_page = text(client.get("/tags"))
    assert all(name in tags_page for name in ("wifi", "hub-3", "tv"))
    assert "1 question" in tags_page


def test_pagination(client, make_user):
    author = make_user("ann")
    start = datetime(2024, 1, 1)
    # Direct rows keep this quick; the list only reads these columns.
    for n in range(21):
        db.session.add(
            Thread(
                title=f"Numbered question {n:02d} about routers",
                body_md=BODY,
                body_html=f"<p>{BODY}</p>",
                author_id=author.id,
                created=start + timedelta(hours=n),
                last_activity=start + timedelta(hours=n),
            )
        )
    db.session.commit()

    first = text(client.get("/"))
    assert "Numbered question 20" in first and "Numbered question 01" in first
    assert "Numbered question 00" not in first
    assert 'rel="next" href="/?page=2"' in first and 'rel="prev"' not in first

    second = text(client.get("/?page=2"))
    assert "Numbered question 00" in second and "Numbered question 01" not in second
    assert 'rel="prev" href="/?page=1"' in second and 'rel="next"' not in second

    for odd in ("abc", "0", "-1", "1.5", "", "١", "2abc"):
        response = client.get("/", query_string={"page": odd})
        assert response.status_code == 200, odd
        assert "Numbered question 20" in text(response), odd
    past_the_end = client.get("/?page=3")
    assert past_the_end.status_code == 200
    assert "No questions here yet" in text(past_the_end)
    for huge in ("99999999", "100001", "9" * 40):
        response = client.get("/", query_string={"page": huge})
        assert response.status_code in (200, 404), huge  # an empty page or not found; never a 500
        assert "Numbered question" not in text(response), huge


# --------------------------------------------------------------- threads


def test_thread_page_and_canonical_redirects(client, make_thread):
    thread = make_thread(title="Hub 3 light is amber & nothing connects!")
    canonical = f"/t/{thread.id}/hub-3-light-is-amber-nothing-connects"
    assert path_of(thread) == canonical

    page = client.get(canonical)
    assert page.status_code == 200
    assert "Hub 3 light is amber & nothing connects!" in text(page)
    assert f'<link rel="canonical" href="https://kb.skylark.example{canonical}">' in text(page)

    for wrong in (
        f"/t/{thread.id}",
        f"/t/{thread.id}/wrong-slug",
        f"/t/{thread.id}/HUB-3-LIGHT-IS-AMBER-NOTHING-CONNECTS",
        f"/t/0{thread.id}/x",
    ):
        response = client.get(wrong)
        assert response.status_code == 301, wrong
        assert response.headers["Location"] == canonical, wrong


def test_renamed_thread_keeps_old_links_working(client, make_user, make_thread):
    ann = make_user("ann")
    thread = make_thread(title="Wi-Fi drops every night at ten", author=ann)
    old = path_of(thread)
    edit_thread(thread, ann, title="Wi-Fi drops every night at 10 pm", body=BODY, tags="wifi")

    response = client.get(old)
    assert response.status_code == 301
    assert response.headers["Location"] == f"/t/{thread.id}/wi-fi-drops-every-night-at-10-pm"
    assert client.get(response.headers["Location"]).status_code == 200


def test_answers_have_anchors_and_come_in_order(client, make_user, make_thread, make_answer):
    ann = make_user("ann")
    thread = make_thread(author=ann)
    plain = make_answer(thread, body="First answer: check the cable at the back.")
    liked = make_answer(thread, body="Second answer: reset the hub with a pin.")
    accepted = make_answer(thread, body="Third answer: call support for a new hub.")
    cast_vote(make_user(), "answer", liked.id, 1)
    accept_answer(thread, accepted, ann)

    page = text(client.get(path_of(thread)))
    positions = [page.index(f'id="answer-{a.id}"') for a in (accepted, liked, plain)]
    assert positions == sorted(positions)
    assert "3 answers" in page
    assert "Accepted answer: this worked for the person who asked" in page
    assert 'class="badge solved">Solved<' in page


def test_voting_accepting_and_commenting_through_the_page(client, make_user, make_thread):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    answer = post_answer(thread, bob, body=ANSWER)
    path = path_of(thread)
    login(client, "ann")

    voted = post_form(client, f"/vote/answer/{answer.id}", {"value": "up"}, token_from=path)
    assert voted.status_code == 302
    assert voted.headers["Location"] == f"{path}#answer-{answer.id}"
    own = post_form(client, f"/vote/thread/{thread.id}", {"value": "up"}, token_from=path)
    assert "You can't vote on your own post." in text(client.get(own.headers["Location"]))
    bad = post_form(client, f"/vote/answer/{answer.id}", {"value": "sideways"}, token_from=path)
    assert bad.status_code == 400
    assert post_form(client, "/vote/answer/424242", {"value": "up"}, path).status_code == 404

    accepted = post_form(client, f"/t/{thread.id}/accept", {"answer_id": answer.id}, path)
    assert accepted.status_code == 302
    short = post_form(client, f"/t/{thread.id}/comment", {"body": "ok"}, token_from=path)
    assert "Comments need at least 5 characters." in text(client.get(short.headers["Location"]))
    post_form(client, f"/t/{thread.id}/comment", {"body": "Thanks, that fixed it!"}, path)

    page = text(client.get(path))
    assert "Thanks, that fixed it!" in page
    assert "Accepted answer" in page and "Unaccept" in page
    assert db.session.get(Thread, thread.id).accepted_answer_id == answer.id
    assert db.session.get(type(answer), answer.id).score == 1
    assert bob.reputation == 10 + 15


# ---------------------------------------------------------------- people


def test_user_page_shows_reputation_questions_and_answers(client, make_user, make_thread):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(title="Wi-Fi drops every night at ten", author=ann)
    answer = post_answer(thread, bob, body=ANSWER)
    cast_vote(ann, "answer", answer.id, 1)
    accept_answer(thread, answer, ann)

    bob_page = text(client.get("/u/bob"))
    assert "<dt>Reputation</dt><dd>25</dd>" in bob_page
    assert "<dt>Questions</dt><dd>0</dd>" in bob_page
    assert "<dt>Answers</dt><dd>1</dd>" in bob_page
    assert f'href="{path_of(thread)}#answer-{answer.id}">{thread.title}</a>' in bob_page
    assert 'class="badge solved">Accepted<' in bob_page

    ann_page = text(client.get("/u/ann"))
    assert "<dt>Questions</dt><dd>1</dd>" in ann_page
    assert f'href="{path_of(thread)}">{thread.title}</a>' in ann_page
    assert "No answers yet." in ann_page


# -------------------------------------------------------------- articles


ARTICLE = """---
title: Reset your Hub 3
slug: reset-hub-3
tags: router, hub-3
summary: Two ways to reset a Hub 3 when the light stays amber.
reviewed: 2026-10-01
---
## Soft reset

Hold the **power** button for 10 seconds.

<script>alert("x")</script>
"""


def test_article_pages(app, client):
    content = Path(app.config["CONTENT_DIR"])
    content.mkdir(parents=True, exist_ok=True)
    (content / "reset-hub-3.md").write_text(ARTICLE, encoding="utf-8")
    assert load_articles(content)["added"] == 1

    response = client.get("/a/reset-hub-3")
    page = text(response)
    assert response.status_code == 200
    assert "<h1>Reset your Hub 3</h1>" in page
    assert "<h2>Soft reset</h2>" in page and "<strong>power</strong>" in page
    assert "Two ways to reset a Hub 3" in page
    assert "1 Oct 2026" in page
    assert "<script>alert" not in response.get_data(as_text=True)

    listing = text(client.get("/articles"))
    assert 'href="/a/reset-hub-3"' in listing
    assert 'href="/a/reset-hub-3"' in text(client.get("/articles?tag=router"))
    assert 'href="/a/reset-hub-3"' not in text(client.get("/articles?tag=tv"))


# --------------------------------------------------------------- history


def test_revision_history_shows_what_changed(client, make_user, make_thread, make_answer):
    ann = make_user("ann")
    thread = make_thread(title="Wi-Fi drops every night at ten", author=ann)
    edit_thread(
        thread,
        ann,
        title="Wi-Fi drops every night at 10 pm",
        body=BODY + "\n\nFirmware 7.1 is installed.",
        tags="wifi",
    )

    response = client.get(f"/t/{thread.id}/revisions")
    page = text(response)
    assert response.status_code == 200
    assert "Revision 2" in page and "Revision 1 (original)" in page
    assert '<span class="diff-del">-Wi-Fi drops every night at ten</span>' in page
    assert '<span class="diff-add">+Wi-Fi drops every night at 10 pm</span>' in page
    assert '<span class="diff-add">+Firmware 7.1 is installed.</span>' in page
    assert '<span class="diff-add">+Tags: wifi</span>' in page
    assert page.index("Revision 2") < page.index("Revision 1")

    answer = make_answer(thread, author=make_user("bob"))
    edit_answer(answer, answer.author, body=ANSWER + " Then wait two minutes.")
    answer_page = text(client.get(f"/answers/{answer.id}/revisions"))
    assert f'<span class="diff-add">+{ANSWER} Then wait two minutes.</span>' in answer_page


# ------------------------------------------------------------ not found


@pytest.mark.parametrize(
    "path",
    [
        "/t/424242",
        "/t/424242/some-slug",
        "/t/123456789012345678901234567890",
        "/t/123456789012345678901234567890/slug",
        "/t/-1",
        "/t/abc",
        "/t/424242/revisions",
        "/answers/424242/revisions",
        "/u/nobody",
        "/u/Not%20A%20Name",
        "/tags/unknown-tag",
        "/tags/C++",
        "/tags/" + "a" * 31,
        "/a/missing-article",
        "/a/Bad_Slug",
    ],
)
def test_missing_things_are_404(client, make_thread, path):
    make_thread()
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in text(response)


def test_hidden_thread_is_404_except_for_moderators(client, make_user, make_thread):
    make_user("mem")
    mod = make_user("mia", role="moderator")
    thread = make_thread(title="Hidden spam about cheap watches")
    resolve_flag(flag_post(mod, "thread", thread.id, reason="Spam advert"), mod, "hide")
    path = path_of(thread)

    assert client.get(path).status_code == 404
    login(client, "mem")
    assert client.get(path).status_code == 404
    assert client.get(f"/t/{thread.id}/revisions").status_code == 404
    post_form(client, "/logout", {})
    login(client, "mia")
    page = client.get(path)
    assert page.status_code == 200
    assert "hidden by moderators" in text(page)


# --------------------------------------------------------------- editing


def test_editing_someone_elses_post_is_403(client, make_user, make_thread, make_answer):
    thread = make_thread()
    answer = make_answer(thread)
    make_user("eve")
    login(client, "eve")

    assert client.get(f"/t/{thread.id}/edit").status_code == 403
    assert client.get(f"/answers/{answer.id}/edit").status_code == 403
    response = post_form(
        client,
        f"/t/{thread.id}/edit",
        {"title": "Buy cheap watches here", "body": BODY, "tags": "spam"},
        token_from=path_of(thread),
    )
    assert response.status_code == 403
    assert "You can't do that" in text(response)
    post_form(client, f"/answers/{answer.id}/edit", {"body": "Buy cheap watches today!!"}, "/")
    assert db.session.get(Thread, thread.id).title == thread.title
    assert db.session.get(type(answer), answer.id).body_md == answer.body_md
    assert "Edit</a>" not in text(client.get(path_of(thread)))


def test_author_and_moderator_edit_through_the_form(client, make_user, make_thread):
    ann = make_user("ann")
    make_user("mia", role="moderator")
    thread = make_thread(author=ann)
    login(client, "ann")
    bad = post_form(
        client,
        f"/t/{thread.id}/edit",
        {"title": "Short", "body": BODY, "tags": "wifi"},
        token_from=f"/t/{thread.id}/edit",
    )
    assert bad.status_code == 400 and "Title must be at least 10" in text(bad)

    post_form(client, "/logout", {})
    login(client, "mia")
    assert client.get(f"/t/{thread.id}/edit").status_code == 200
    done = post_form(
        client,
        f"/t/{thread.id}/edit",
        {"title": "Hub 3 light stays amber all day", "body": BODY, "tags": "router"},
        token_from=f"/t/{thread.id}/edit",
    )
    assert done.status_code == 302
    assert done.headers["Location"] == f"/t/{thread.id}/hub-3-light-stays-amber-all-day"


# ------------------------------------------------------------ moderation


def test_moderation_queue_is_for_moderators_only(client, make_user, make_thread):
    thread = make_thread()
    flag = flag_post(make_user("rita"), "thread", thread.id, reason="Spam advert")
    make_user("mem")

    anonymous = client.get("/moderation/flags")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(client, "mem")
    assert client.get("/moderation/flags").status_code == 403
    assert "Flags</a>" not in text(client.get("/"))
    hide = post_form(client, f"/moderation/flags/{flag.id}", {"action": "hide"}, token_from="/")
    assert hide.status_code == 403
    assert db.session.get(Flag, flag.id).status == "open"
    assert not db.session.get(Thread, thread.id).hidden


@pytest.mark.parametrize(
    ("action", "status", "hidden"), [("hide", "hidden", True), ("dismiss", "dismissed", False)]
)
def test_moderator_resolves_flags(client, make_user, make_thread, action, status, hidden):
    thread = make_thread(title="Cheap watches for sale here today")
    flag = flag_post(make_user("rita"), "thread", thread.id, reason="Looks like an advert")
    make_user("mia", role="moderator")
    login(client, "mia")

    queue = text(client.get("/moderation/flags"))
    assert "Looks like an advert" in queue and "flagged by" in queue
    response = post_form(
        client, f"/moderation/flags/{flag.id}", {"action": action}, token_from="/moderation/flags"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/flags"
    assert "Nothing to review. The queue is clear." in text(client.get("/moderation/flags"))
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == status
    assert db.session.get(Thread, thread.id).hidden is hidden

    post_form(client, "/logout", {})
    assert (thread.title in text(client.get("/"))) is not hidden
    assert client.get(path_of(thread)).status_code == (404 if hidden else 200)


def test_flag_form(client, make_user, make_thread):
    thread = make_thread()
    make_user("rita")
    login(client, "rita")
    short = post_form(
        client,
        f"/flag/thread/{thread.id}",
        {"reason": "bad"},
        token_from=f"/flag/thread/{thread.id}",
    )
    assert short.status_code == 400
    assert "5 to 500 characters" in text(short)
    done = post_form(
        client,
        f"/flag/thread/{thread.id}",
        {"reason": "Spam advert"},
        token_from=f"/flag/thread/{thread.id}",
    )
    assert done.status_code == 302
    assert db.session.scalars(select(Flag.reason)).all() == ["Spam advert"]
    assert client.get("/flag/user/1").status_code == 404
    assert client.get("/flag/thread/424242").status_code == 404


def test_recent_activity_moves_a_thread_up(client, make_user):
    ann = make_user("ann")
    old = ask_thread(
        ann,
        title="An old question from last year",
        body=BODY,
        tags="wifi",
        created=utcnow() - timedelta(days=365),
    )
    ask_thread(ann, title="A brand new question from today", body=BODY, tags="wifi")
    page = text(client.get("/"))
    assert page.index("A brand new question") < page.index("An old question")
    post_answer(old, make_user(), body=ANSWER)
    page = text(client.get("/"))
    assert page.index("An old question") < page.index("A brand new question")
    assert re.search(r"1 year ago", page)
