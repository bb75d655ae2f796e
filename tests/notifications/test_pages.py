"""The notifications page, the header's unread count, and marking read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from kb.db import db
from kb.notifications import operations as ops
from tests.conftest import login, post_form


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def unread_badge(html: str) -> str | None:
    found = re.search(r'<span class="rep unread-count">(\d+)</span>', html)
    return found.group(1) if found else None


def test_header_shows_unread_count_with_one_count_query(
    client, make_user, make_thread, make_answer
):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    make_answer(thread, author=bob)
    make_answer(thread, author=bob, body="Or try another power adapter if you have one.")
    login(client, "ann")
    with statements() as seen:
        html = client.get("/").get_data(as_text=True)
    assert unread_badge(html) == "2"
    assert 'aria-label="Notifications, 2 unread"' in html
    touching = [s for s in seen if "notifications" in s]
    assert len(touching) == 1 and "count(" in touching[0].lower()


def test_no_badge_when_everything_is_read(client, make_user):
    make_user("ann")
    login(client, "ann")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/notifications"' in html
    assert unread_badge(html) is None


def test_anonymous_pages_do_not_count_or_set_cookies(client, make_thread):
    thread = make_thread()
    for path in ("/", f"/t/{thread.id}/{thread.slug}", "/tags/router"):
        with statements() as seen:
            response = client.get(path)
        assert response.status_code == 200
        assert not [s for s in seen if "notifications" in s or "follows" in s], path
        assert "Set-Cookie" not in response.headers, path
        assert 'href="/notifications"' not in response.get_data(as_text=True)


def test_page_lists_newest_first_highlights_unread_and_marks_read(
    client, make_user, make_thread, make_answer
):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann, title="Hub 3 light is amber and nothing connects")
    make_answer(thread, author=bob)
    make_answer(thread, author=cat, body="Check the ONT cable, it came loose for me.")
    login(client, "ann")
    html = client.get("/notifications").get_data(as_text=True)
    assert html.index("cat answered") < html.index("bob answered")
    assert html.count('class="notification unread"') == 2
    assert "Mark all read" in html

    response = post_form(client, "/notifications/read", {}, token_from="/notifications")
    assert response.status_code == 302
    html = client.get("/notifications").get_data(as_text=True)
    assert 'class="notification unread"' not in html
    assert html.count('class="notification"') == 2
    assert "Mark all read" not in html
    assert unread_badge(html) is None
    assert ops.unread_count(ann) == 0


def test_mark_read_needs_csrf(client, make_user, make_thread, make_answer):
    ann = make_user("ann")
    make_answer(make_thread(author=ann))
    login(client, "ann")
    assert client.post("/notifications/read").status_code == 400
    assert ops.unread_count(ann) == 1


def test_page_is_paginated(app, client, make_user, make_thread):
    from kb.threads import post_comment

    app.config["PAGE_SIZE"] = 3
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    for i in range(4):
        post_comment(bob, thread, body=f"Comment number {i} on this.")
    login(client, "ann")
    first = client.get("/notifications").get_data(as_text=True)
    assert first.count('class="notification') == 3 and 'rel="next"' in first
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert second.count('class="notification') == 1 and 'rel="next"' not in second
    assert "No more notifications" in client.get("/notifications?page=9").get_data(as_text=True)


def test_empty_page_and_login_required(client, make_user):
    assert client.get("/notifications").status_code == 302
    make_user("ann")
    login(client, "ann")
    assert "Nothing yet" in client.get("/notifications").get_data(as_text=True)


def test_notification_about_a_hidden_thread_hides_its_title(
    client, make_user, make_thread, make_answer
):
    ann = make_user("ann")
    thread = make_thread(author=ann, title="Secret spam title for the moderators")
    make_answer(thread)
    thread.hidden = True
    db.session.commit()
    login(client, "ann")
    html = client.get("/notifications").get_data(as_text=True)
    assert "Secret spam title" not in html
    assert "has been removed" in html


def test_answer_posted_through_the_page_notifies_the_mentioned_user(client, make_user, make_thread):
    make_user("bob")
    make_user("cat")
    thread = make_thread()
    login(client, "bob")
    page = f"/t/{thread.id}/{thread.slug}"
    body = "@cat fixed this last week: hold the reset button for thirty seconds."
    assert post_form(client, f"/t/{thread.id}/answer", {"body": body}, page).status_code == 302
    post_form(client, "/logout", {})
    login(client, "cat")
    html = client.get("/notifications").get_data(as_text=True)
    assert unread_badge(html) == "1"
    assert "bob mentioned you in &#34;Hub 3 light is amber" in html
