"""Following and unfollowing threads and tags, by operation and through the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.db import db
from kb.errors import NotFound
from kb.notifications import operations as ops
from kb.notifications.models import Follow
from tests.conftest import login, post_form


def follows_of(user) -> set[tuple[str, int | None, int | None]]:
    rows = db.session.scalars(select(Follow).where(Follow.user_id == user.id))
    return {(f.kind, f.thread_id, f.tag_id) for f in rows}


def test_asker_and_answerer_follow_the_thread(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    make_answer(thread, author=bob)
    make_answer(thread, author=bob, body="Another idea: swap the cable to the ONT box.")
    assert follows_of(ann) == {("thread", thread.id, None)}
    assert follows_of(bob) == {("thread", thread.id, None)}


def test_follow_and_unfollow_thread_is_idempotent(make_user, make_thread):
    cat = make_user("cat")
    thread = make_thread()
    ops.follow_thread(cat, thread.id)
    ops.follow_thread(cat, thread.id)
    assert ops.is_following(cat, "thread", thread.id)
    assert len(follows_of(cat)) == 1
    ops.unfollow_thread(cat, thread.id)
    ops.unfollow_thread(cat, thread.id)
    assert not ops.is_following(cat, "thread", thread.id)


def test_follow_and_unfollow_tag(make_user, make_thread):
    cat = make_user("cat")
    make_thread(tags=["router"])
    ops.follow_tag(cat, "router")
    ops.follow_tag(cat, "router")
    assert [t.name for t in ops.followed_tags(cat)] == ["router"]
    assert ops.is_following_tag(cat, "router")
    ops.unfollow_tag(cat, "router")
    assert ops.followed_tags(cat) == []


@pytest.mark.parametrize("name", ["nope", "Router", "a" * 31, "bad tag", ""])
def test_following_a_missing_tag_is_not_found(make_user, make_thread, name):
    make_thread(tags=["router"])
    with pytest.raises(NotFound):
        ops.follow_tag(make_user(), name)


def test_following_a_missing_or_hidden_thread_is_not_found(make_user, make_thread):
    thread = make_thread()
    thread.hidden = True
    db.session.commit()
    cat = make_user("cat")
    with pytest.raises(NotFound):
        ops.follow_thread(cat, thread.id)
    with pytest.raises(NotFound):
        ops.follow_thread(cat, 999_999)


def test_thread_page_follow_button_round_trip(client, make_user, make_thread):
    thread = make_thread()
    make_user("cat")
    login(client, "cat")
    page = f"/t/{thread.id}/{thread.slug}"
    assert ">Follow</button>" in client.get(page).get_data(as_text=True)
    response = post_form(client, f"/follow/thread/{thread.id}", {}, token_from=page)
    assert response.status_code == 302
    assert response.headers["Location"] == page
    html = client.get(page).get_data(as_text=True)
    assert ">Unfollow</button>" in html
    response = post_form(client, f"/unfollow/thread/{thread.id}", {}, token_from=page)
    assert response.status_code == 302
    assert ">Follow</button>" in client.get(page).get_data(as_text=True)


def test_tag_page_follow_button_round_trip(client, make_user, make_thread):
    make_thread(tags=["router"])
    cat = make_user("cat")
    login(client, "cat")
    assert "Follow router" in client.get("/tags/router").get_data(as_text=True)
    response = post_form(client, "/follow/tag/router", {}, token_from="/tags/router")
    assert response.headers["Location"] == "/tags/router"
    assert "Unfollow router" in client.get("/tags/router").get_data(as_text=True)
    assert ops.is_following_tag(cat, "router")
    post_form(client, "/unfollow/tag/router", {}, token_from="/tags/router")
    assert not ops.is_following_tag(cat, "router")


def test_anonymous_pages_show_no_follow_buttons(client, make_thread):
    thread = make_thread(tags=["router"])
    assert "Follow" not in client.get(f"/t/{thread.id}/{thread.slug}").get_data(as_text=True)
    assert "Follow router" not in client.get("/tags/router").get_data(as_text=True)


def test_follow_endpoints_need_login(client, make_thread):
    thread = make_thread()
    response = post_form(client, f"/follow/thread/{thread.id}", {}, token_from="/login")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "path", ["/follow/thread/999999", "/follow/tag/nope", "/unfollow/tag/nope",
             "/unfollow/thread/999999", "/follow/tag/NOT_A_TAG"],
)  # fmt: skip
def test_following_missing_things_is_404(client, make_user, make_thread, path):
    make_thread()
    make_user("cat")
    login(client, "cat")
    assert post_form(client, path, {}).status_code == 404


def test_follow_without_csrf_token_is_400(client, make_user, make_thread):
    thread = make_thread()
    cat = make_user("cat")
    login(client, "cat")
    assert client.post(f"/follow/thread/{thread.id}").status_code == 400
    assert client.post("/follow/tag/router").status_code == 400
    assert not ops.is_following(cat, "thread", thread.id)


def test_follow_get_is_not_allowed(client, make_user, make_thread):
    thread = make_thread()
    make_user("cat")
    login(client, "cat")
    assert client.get(f"/follow/thread/{thread.id}").status_code == 405


def test_next_redirect_stays_on_site(client, make_user, make_thread):
    thread = make_thread()
    make_user("cat")
    login(client, "cat")
    for evil in ("//evil.example/x", "/\\evil.example", "https://evil.example/"):
        response = post_form(client, f"/follow/thread/{thread.id}", {"next": evil})
        assert response.headers["Location"] == f"/t/{thread.id}/{thread.slug}"
    response = post_form(client, f"/unfollow/thread/{thread.id}", {"next": "/settings#follows"})
    assert response.headers["Location"] == "/settings#follows"


def test_settings_lists_follows_and_unfollows(client, make_user, make_thread):
    thread = make_thread(title="Wi-Fi drops every evening at eight", tags=["wifi"])
    cat = make_user("cat")
    ops.follow_tag(cat, "wifi")
    ops.follow_thread(cat, thread.id)
    login(client, "cat")
    html = client.get("/settings").get_data(as_text=True)
    assert "Wi-Fi drops every evening at eight" in html
    assert 'href="/tags/wifi"' in html
    response = post_form(
        client, "/unfollow/tag/wifi", {"next": "/settings#follows"}, token_from="/settings"
    )
    assert response.headers["Location"] == "/settings#follows"
    assert ops.followed_tags(cat) == []


def test_a_follow_has_exactly_one_matching_target(make_user, make_thread):
    from sqlalchemy.exc import IntegrityError

    thread = make_thread()
    cat = make_user("cat")
    for bad in ({"kind": "tag", "thread_id": thread.id}, {"kind": "thread"}):
        db.session.add(Follow(user_id=cat.id, **bad))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
