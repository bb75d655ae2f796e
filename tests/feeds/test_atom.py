"""Atom feeds: recent, unanswered, solved, per tag, and a thread's answers."""

from __future__ import annotations

import pytest

from kb import feeds
from kb.db import db
from kb.threads import accept_answer
from tests.feeds.conftest import ATOM, BASE, TAG, atom, entries, hours, stamp, text

LIST_FEEDS = ["/feeds/recent.atom", "/feeds/unanswered.atom", "/feeds/solved.atom"]


def ids(feed) -> list[str]:
    return [text(e, "id") for e in entries(feed)]


@pytest.fixture
def board(make_thread, make_answer, set_times):
    """Threads of every kind: open, unanswered, solved, hidden, duplicate; distinct times."""
    unanswered = make_thread(title="Router lights are all off", tags=["router"])
    answered = make_thread(title="Wi-Fi drops every evening", tags=["wifi"])
    make_answer(answered)
    solved = make_thread(title="Bill shows a double charge", tags=["billing"])
    answer = make_answer(solved)
    accept_answer(solved, answer, solved.author)
    hidden = make_thread(title="Hidden spam about routers", tags=["router"])
    duplicate = make_thread(title="Router lights went off again", tags=["router"])
    set_times(unanswered, created=hours(0), last_activity=hours(5))
    set_times(answered, created=hours(1), last_activity=hours(3))
    set_times(solved, created=hours(2), last_activity=hours(4))
    set_times(hidden, created=hours(3), last_activity=hours(9), hidden=True)
    set_times(duplicate, created=hours(4), last_activity=hours(8), duplicate_of_id=unanswered.id)
    return {
        "unanswered": unanswered, "answered": answered, "solved": solved,
        "hidden": hidden, "duplicate": duplicate,
    }  # fmt: skip


def test_recent_feed_is_atom_with_stable_ids_times_and_links(client, board):
    feed = atom(client, "/feeds/recent.atom")
    assert text(feed, "id") == f"{TAG}feed/recent"
    order = [board["unanswered"], board["solved"], board["answered"]]
    assert ids(feed) == [f"{TAG}thread/{t.id}" for t in order]
    assert text(feed, "updated") == stamp(hours(5))
    assert ids(atom(client, "/feeds/recent.atom")) == ids(feed)  # stable across requests

    first = entries(feed)[0]
    thread = board["unanswered"]
    assert text(first, "title") == thread.title
    assert text(first, "updated") == stamp(hours(5))
    assert text(first, "published") == stamp(hours(0))
    link = first.find(f"{ATOM}link[@rel='alternate']")
    assert link.get("href") == f"{BASE}/t/{thread.id}/router-lights-are-all-off"
    author = first.find(f"{ATOM}author")
    assert author.findtext(f"{ATOM}name") == thread.author.name
    assert author.findtext(f"{ATOM}uri") == f"{BASE}/u/{thread.author.name}"
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert content.text == thread.body_html  # escaped in the XML, the stored HTML once parsed
    assert [c.get("term") for c in first.findall(f"{ATOM}category")] == ["router"]
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == f"{BASE}/feeds/recent.atom"


FEED_CONTENTS = {
    "/feeds/recent.atom": ["unanswered", "solved", "answered"],
    "/feeds/unanswered.atom": ["unanswered"],
    "/feeds/solved.atom": ["solved"],
    "/feeds/tags/router.atom": ["unanswered"],
    "/feeds/tags/billing.atom": ["solved"],
}


def test_feeds_list_the_right_threads_without_hidden_or_duplicates(client, board):
    excluded = {f"{TAG}thread/{board[k].id}" for k in ("hidden", "duplicate")}
    feed_ids = set()
    for path, expected in FEED_CONTENTS.items():
        feed = atom(client, path)
        assert ids(feed) == [f"{TAG}thread/{board[k].id}" for k in expected], path
        assert not excluded & set(ids(feed)), path
        feed_ids.add(text(feed, "id"))
    assert len(feed_ids) == len(FEED_CONTENTS)  # each feed has its own id...
    assert f"{TAG}feed/tags/router" in feed_ids
    # ...while an entry keeps its id in every feed it appears in.
    assert (
        ids(atom(client, "/feeds/tags/router.atom"))[0]
        == ids(atom(client, "/feeds/recent.atom"))[0]
    )


def test_an_edit_moves_a_thread_up_with_its_new_updated_time(client, board, set_times):
    set_times(board["answered"], edited=hours(7))
    feed = atom(client, "/feeds/recent.atom")
    first = entries(feed)[0]
    assert text(first, "id") == f"{TAG}thread/{board['answered'].id}"
    assert text(first, "updated") == stamp(hours(7))
    assert text(feed, "updated") == stamp(hours(7))
    updated = [text(e, "updated") for e in entries(feed)]
    assert updated == sorted(updated, reverse=True)


def test_feeds_hold_at_most_the_feed_size(client, make_thread, monkeypatch):
    monkeypatch.setattr(feeds, "FEED_SIZE", 2)
    for n in range(3):
        make_thread(title=f"Question number {n} about the hub")
    assert len(entries(atom(client, "/feeds/recent.atom"))) == 2


def test_empty_feeds_are_valid_and_stable(client):
    for path in LIST_FEEDS:
        feed = atom(client, path)
        assert entries(feed) == []
        assert text(feed, "updated") == "1970-01-01T00:00:00Z"
        assert feed.find(f"{ATOM}author/{ATOM}name").text == "Skylark Community"


def test_thread_feed_lists_visible_answers_newest_first(
    client, make_thread, make_answer, set_times
):
    thread = make_thread(title="Hub 3 keeps rebooting")
    old, new, hidden = (
        make_answer(thread, body=f"Answer {n}: swap the power adapter.") for n in range(3)
    )
    set_times(old, created=hours(1))
    set_times(new, created=hours(2))
    set_times(hidden, created=hours(3), hidden=True)
    feed = atom(client, f"/t/{thread.id}/feed.atom")
    assert text(feed, "id") == f"{TAG}thread/{thread.id}/answers"
    assert ids(feed) == [f"{TAG}answer/{new.id}", f"{TAG}answer/{old.id}"]
    assert text(feed, "updated") == stamp(hours(2))
    link = entries(feed)[0].find(f"{ATOM}link").get("href")
    assert link == f"{BASE}/t/{thread.id}/hub-3-keeps-rebooting#answer-{new.id}"
    assert entries(feed)[0].find(f"{ATOM}content").text == new.body_html

    set_times(old, edited=hours(4))  # an edit is an update: it comes first now
    feed = atom(client, f"/t/{thread.id}/feed.atom")
    assert ids(feed)[0] == f"{TAG}answer/{old.id}"
    assert text(entries(feed)[0], "updated") == stamp(hours(4))
    assert text(entries(feed)[0], "published") == stamp(hours(1))


def test_thread_feed_without_answers_uses_the_thread_time(client, make_thread, set_times):
    thread = set_times(make_thread(), last_activity=hours(6))
    feed = atom(client, f"/t/{thread.id}/feed.atom")
    assert entries(feed) == []
    assert text(feed, "updated") == stamp(hours(6))


def test_hidden_threads_have_no_feed_and_duplicates_point_to_the_original(
    client, make_thread, set_times
):
    original = make_thread(title="The original question")
    hidden = set_times(make_thread(title="A hidden question"), hidden=True)
    duplicate = set_times(make_thread(title="A duplicate question"), duplicate_of_id=original.id)
    assert client.get(f"/t/{hidden.id}/feed.atom").status_code == 404
    response = client.get(f"/t/{duplicate.id}/feed.atom")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/t/{original.id}/feed.atom"


def test_feeds_answer_conditional_requests(client):
    first = client.get("/feeds/recent.atom")
    etag = first.headers["ETag"]
    again = client.get("/feeds/recent.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_control_characters_cannot_break_the_xml(client, make_thread):
    thread = make_thread(title="An odd title for a question")
    thread.title = "Odd \x0b title"
    db.session.commit()
    assert text(entries(atom(client, "/feeds/recent.atom"))[0], "title") == "Odd  title"
