"""Similar questions while asking (JSON and the no-JavaScript flow) and related threads."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.models import Thread
from kb.search import backend
from kb.search.indexer import process_pending
from kb.search.service import related_threads, similar_threads
from kb.threads import accept_answer
from tests.conftest import login, post_form

SOLVED_TITLE = "Amber light on my hub after the power cut"
ACCEPTED = (
    "Amber means the hub has no signal from the line. Restart the fibre box first, then the hub."
)
OPEN_TITLES = [
    "Hub 3 amber light flashing and nothing connects",
    "Hub 3 amber light every evening after eight",
    "Amber light on the Hub 3 and slow speeds",
    "Hub 3 stuck on amber light after an update",
    "Amber light comes back on the Hub 3 every morning",
    "Hub 3 light goes amber when the phone rings",
]


def text(response: Any) -> str:
    """A page's HTML with entities decoded."""
    return html_lib.unescape(response.get_data(as_text=True))


def thread_count() -> int:
    """Threads in the database."""
    return db.session.scalar(select(func.count(Thread.id))) or 0


@pytest.fixture
def amber(app, make_user, make_thread, make_answer) -> dict[str, Any]:
    """One solved and six open threads about an amber Hub 3 light, and an unrelated one."""
    app.config["INDEX_SYNC"] = False  # index the lot in one batch: quicker
    asker = make_user("asker")
    solved = make_thread(title=SOLVED_TITLE, author=asker, tags=("hub-3", "lights"))
    accept_answer(solved, make_answer(solved, body=ACCEPTED), asker)
    opened = [make_thread(title=title, tags=("hub-3",)) for title in OPEN_TITLES]
    other = make_thread(
        title="Stream 4K remote will not pair",
        body="The remote for my Stream 4K box stopped pairing after new batteries.",
        tags=("tv",),
    )
    process_pending()
    app.config["INDEX_SYNC"] = True
    return {"solved": solved, "open": opened, "other": other, "asker": asker}


# ----------------------------------------------------------------- similar, as JSON


def test_similar_json_lists_five_threads_solved_first_with_the_answer(client, amber):
    query = "Hub 3 amber light flashing"
    # Plain relevance puts an open thread above the solved one; the list must not.
    raw = backend().search(query, kind="thread", mode="any", snippets=False).hits
    assert not raw[0].solved

    response = client.get("/ask/similar", query_string={"title": query})

    assert response.status_code == 200 and response.is_json
    threads = response.get_json()["threads"]
    assert len(threads) == 5
    assert threads[0]["id"] == amber["solved"].id and threads[0]["solved"] is True
    assert threads[0]["answer"] == "Amber means the hub has no signal from the line."
    assert threads[0]["url"] == f"/t/{amber['solved'].id}/{amber['solved'].slug}"
    assert all(not t["solved"] and t["answer"] == "" for t in threads[1:])
    open_ids = {t.id for t in amber["open"]}
    assert {t["id"] for t in threads[1:]} <= open_ids
    assert amber["other"].id not in {t["id"] for t in threads}
    assert set(threads[0]) == {"id", "title", "url", "solved", "answer"}


HOSTILE = [
    "",
    "a",
    "hub",  # one word: too little to go on
    "the and of",  # only stop words
    "<script>alert(1)</script>",
    "' OR 1=1; DROP TABLE threads; --",
    "title:* AND NOT (",
    "\x00\x01\x02\u202e\ufeff",
    "🙂" * 200,
    "x" * 5000,
    "%ff%fe",
]


def test_similar_json_with_short_empty_or_hostile_titles_is_an_empty_list(client, amber):
    for title in HOSTILE:
        response = client.get("/ask/similar", query_string={"title": title})

        assert response.status_code == 200, title
        assert response.get_json() == {"threads": []}, title
    raw = client.get("/ask/similar?title=%ff%fe%00hub")
    assert raw.status_code == 200 and raw.get_json() == {"threads": []}
    assert client.get("/ask/similar").get_json() == {"threads": []}
    twice = client.get("/ask/similar?title=&title=hub+3+amber+light")
    assert twice.status_code == 200 and twice.get_json() == {"threads": []}


def test_similar_leaves_out_hidden_and_duplicate_threads(amber, make_user):
    from kb.duplicates import vote_duplicate
    from kb.threads import flag_post, resolve_flag

    mod = make_user("mia", role="moderator")
    hidden, closed = amber["open"][0], amber["open"][1]
    resolve_flag(flag_post(amber["asker"], "thread", hidden.id, reason="Spam advert"), mod, "hide")
    vote_duplicate(closed, amber["solved"], mod)

    ids = {t["id"] for t in similar_threads("Hub 3 amber light flashing every evening")}

    assert ids and hidden.id not in ids and closed.id not in ids


# ------------------------------------------------------- asking without JavaScript


def ask_form(title: str) -> dict[str, str]:
    """A complete ask form."""
    return {
        "title": title,
        "body": "My Hub 3 light is amber again and the laptop says no internet at all.",
        "tags": "hub-3 lights",
    }


def test_posting_first_shows_similar_threads_then_confirming_posts_it(client, amber):
    login(client, "asker")
    before = thread_count()
    form = ask_form("Hub 3 amber light and no internet")

    shown = post_form(client, "/ask", form, "/ask")

    assert shown.status_code == 200
    page = text(shown)
    assert "Similar questions, solved first" in page
    assert f'href="/t/{amber["solved"].id}/{amber["solved"].slug}"' in page
    assert SOLVED_TITLE in page and "Amber means the hub has no signal from the line." in page
    assert "None of these answers my question: post it" in page
    assert '<input type="hidden" name="confirmed" value="1">' in page
    # What was typed is kept for the second post.
    assert 'value="Hub 3 amber light and no internet"' in page and "laptop says no internet" in page
    assert thread_count() == before

    posted = post_form(client, "/ask", {**form, "confirmed": "1"}, "/ask")

    assert posted.status_code == 302
    assert thread_count() == before + 1
    new = db.session.scalar(select(Thread).order_by(Thread.id.desc()).limit(1))
    assert new.title == "Hub 3 amber light and no internet"
    assert posted.headers["Location"] == f"/t/{new.id}/{new.slug}"


def test_a_question_like_nothing_else_is_posted_at_once(client, amber):
    login(client, "asker")
    before = thread_count()

    response = post_form(client, "/ask", ask_form("Voicemail greeting recorded twice"), "/ask")

    assert response.status_code == 302 and thread_count() == before + 1
    invalid = {**ask_form("Hub 3 amber light"), "body": "short", "confirmed": "1"}
    refused = post_form(client, "/ask", invalid, "/ask")
    assert refused.status_code == 400 and thread_count() == before + 1


# ------------------------------------------------------------------ related threads


def related_section(page: str) -> list[str]:
    """The links of the thread page's Related questions section, in order."""
    found = re.search(r'<section class="related".*?</section>', page, re.S)
    assert found, "no Related questions section"
    return re.findall(r'<li><a href="([^"]+)"', found.group(0))


def test_thread_page_shows_related_threads_solved_first_and_not_itself(client, amber):
    thread = amber["open"][0]

    links = related_section(text(client.get(f"/t/{thread.id}/{thread.slug}")))

    solved = amber["solved"]
    assert links[0] == f"/t/{solved.id}/{solved.slug}"
    assert f"/t/{thread.id}/{thread.slug}" not in links
    assert 1 < len(links) <= 5
    others = {f"/t/{t.id}/{t.slug}" for t in amber["open"][1:]}
    assert set(links[1:]) <= others
    assert f"/t/{amber['other'].id}/{amber['other'].slug}" not in links
    related = related_threads(thread)
    assert [r["url"] for r in related] == links
    assert [r["solved"] for r in related] == [True] + [False] * (len(related) - 1)


def test_a_thread_about_nothing_else_has_no_related_section(client, amber):
    other = amber["other"]

    page = text(client.get(f"/t/{other.id}/{other.slug}"))

    assert "Related questions" not in page
