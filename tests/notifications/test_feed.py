"""The private Atom feed: valid Atom 1.0, secret tokens stored hashed, revocable."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from kb.db import db
from kb.notifications import feed
from kb.notifications.models import FeedToken
from tests.conftest import login, post_form

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def feed_path(secret: str) -> str:
    return f"/notifications/feed/{secret}.atom"


def test_feed_is_valid_atom_with_one_entry_per_notification(
    client, make_user, make_thread, make_answer
):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann, title="Hub 3 light is amber & nothing <connects>")
    answer = make_answer(thread, author=bob)
    secret = feed.issue_feed_token(ann)

    response = client.get(feed_path(secret))
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert "private" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    root = ET.fromstring(response.data)
    assert root.tag == f"{A}feed"
    assert root.findtext(f"{A}id").startswith("urn:uuid:")
    assert RFC3339.match(root.findtext(f"{A}updated"))
    assert "ann" in root.findtext(f"{A}title")
    assert root.find(f"{A}author/{A}name").text
    self_link = root.find(f"{A}link[@rel='self']").get("href")
    assert self_link == "https://kb.skylark.example" + feed_path(secret)

    entries = root.findall(f"{A}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.findtext(f"{A}id").startswith("urn:uuid:")
    assert entry.findtext(f"{A}title") == f'bob answered "{thread.title}"'
    assert RFC3339.match(entry.findtext(f"{A}updated"))
    href = entry.find(f"{A}link").get("href")
    assert href == f"https://kb.skylark.example/t/{thread.id}/{thread.slug}#answer-{answer.id}"


def test_feed_ids_are_stable_across_new_tokens(client, make_user, make_thread, make_answer):
    ann = make_user("ann")
    make_answer(make_thread(author=ann))
    first = ET.fromstring(client.get(feed_path(feed.issue_feed_token(ann))).data)
    second = ET.fromstring(client.get(feed_path(feed.issue_feed_token(ann))).data)
    assert first.findtext(f"{A}id") == second.findtext(f"{A}id")
    assert first.find(f"{A}entry/{A}id").text == second.find(f"{A}entry/{A}id").text


def test_empty_feed_is_still_valid(client, make_user):
    ann = make_user("ann")
    root = ET.fromstring(client.get(feed_path(feed.issue_feed_token(ann))).data)
    assert root.findall(f"{A}entry") == []
    assert RFC3339.match(root.findtext(f"{A}updated"))


def test_only_a_hash_of_the_token_is_stored(make_user):
    ann = make_user("ann")
    secret = feed.issue_feed_token(ann)
    row = db.session.scalar(select(FeedToken).where(FeedToken.user_id == ann.id))
    assert row.token_hash == feed.hash_token(secret) and len(row.token_hash) == 64
    assert secret not in row.token_hash


@pytest.mark.parametrize(
    "secret", ["x" * 43, "short", "a" * 200, "has space in it and is long enough", "..%2e%2e"]
)
def test_bad_token_is_404(client, make_user, secret):
    feed.issue_feed_token(make_user("ann"))
    assert client.get(feed_path(secret)).status_code == 404


def test_new_token_revokes_the_old_and_revoke_turns_it_off(client, make_user):
    ann = make_user("ann")
    old = feed.issue_feed_token(ann)
    new = feed.issue_feed_token(ann)
    assert client.get(feed_path(old)).status_code == 404
    assert client.get(feed_path(new)).status_code == 200
    feed.revoke_feed_tokens(ann)
    assert client.get(feed_path(new)).status_code == 404
    assert feed.active_feed_token(ann) is None


def test_settings_page_makes_shows_and_revokes_the_feed_url(client, make_user):
    ann = make_user("ann")
    login(client, "ann")
    assert "Your feed is off" in client.get("/settings").get_data(as_text=True)

    response = post_form(client, "/notifications/feed", {}, token_from="/settings")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', html).group(1)
    assert url.startswith("https://kb.skylark.example/notifications/feed/")
    path = url.removeprefix("https://kb.skylark.example")
    assert client.get(path).status_code == 200

    later = client.get("/settings").get_data(as_text=True)
    assert "Your feed is on" in later and url not in later  # shown once

    post_form(client, "/notifications/feed", {}, token_from="/settings")
    assert client.get(path).status_code == 404  # a new URL revokes the old one

    response = post_form(client, "/notifications/feed/revoke", {}, token_from="/settings")
    assert response.status_code == 302
    assert feed.active_feed_token(ann) is None
    assert "Your feed is off" in client.get("/settings").get_data(as_text=True)


def test_feed_token_endpoints_need_csrf_and_login(client, make_user):
    assert post_form(client, "/notifications/feed", {}, token_from="/login").status_code == 302
    ann = make_user("ann")
    login(client, "ann")
    assert client.post("/notifications/feed").status_code == 400
    assert feed.active_feed_token(ann) is None
