"""The thread page cache seen from outside: fresh after every write, never personal."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from kb import threads as ops
from kb.articles import promote_thread, update_article
from kb.db import db
from kb.duplicates import unmark_duplicate, vote_duplicate
from kb.importer import import_lines
from kb.models import Comment, Thread, User
from kb.pagecache import PageCache
from tests.conftest import app_config, login

ANSWER = "Restart the hub by holding the power button for ten seconds."
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")
OPEN = '<span class="badge open">Open</span>'
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def text(response: Any) -> str:
    """The page's HTML with entities decoded."""
    return html_lib.unescape(response.get_data(as_text=True))


def path_of(thread: Thread) -> str:
    """The canonical path of a thread."""
    return f"/t/{thread.id}/{thread.slug}"


def without_nonce(response: Any) -> str:
    """The page's HTML with this response's CSP nonce taken out."""
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    return response.get_data(as_text=True).replace(nonce, "")


def reader(app: Flask) -> Any:
    """Another logged-out browser, with cookies of its own."""
    return app.test_client()


def cache_of(app: Flask) -> PageCache:
    """The app's page cache."""
    return app.extensions["kb_page_cache"]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Thread ids whose page data was loaded: a cache hit loads nothing."""
    loaded: list[int] = []
    real = ops.thread_page_data

    def counting(thread: Thread, viewer: Any) -> dict[str, object]:
        loaded.append(thread.id)
        return real(thread, viewer)

    monkeypatch.setattr(ops, "thread_page_data", counting)
    return loaded


@pytest.fixture
def world(make_user, make_thread) -> dict[str, Any]:
    """A thread by ann with bob's answer and a comment; a voter and a moderator."""
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    answer = ops.post_answer(thread, bob, body=ANSWER)
    ops.post_comment(bob, thread, body="Which model of hub is it exactly?")
    return {
        "thread": thread, "answer": answer, "ann": ann, "bob": bob,
        "voter": make_user("vic"), "mod": make_user("mia", role="moderator"),
        "staff": make_user("sam", role="staff"),
    }  # fmt: skip


# ------------------------------------------------------------------ hits


def test_a_second_logged_out_view_comes_from_the_cache(app, world, renders):
    path = path_of(world["thread"])

    first, second = reader(app).get(path), reader(app).get(path)

    assert first.status_code == second.status_code == 200
    assert renders == [world["thread"].id]  # rendered once, served twice
    assert without_nonce(first) == without_nonce(second)
    assert ANSWER in text(second) and "Log in to answer" in text(second)
    assert second.content_type == first.content_type == "text/html; charset=utf-8"
    assert second.headers["X-Content-Type-Options"] == "nosniff"


def test_data_outside_the_thread_lags_at_most_page_cache_seconds(app, world, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("kb.pagecache.time.monotonic", lambda: clock[0])
    path = path_of(world["thread"])
    assert 'title="0 reputation"' in text(reader(app).get(path))

    # Reputation lives on the user, not the thread: no version bump, so the page may lag.
    db.session.execute(update(User).where(User.id == world["bob"].id).values(reputation=77))
    db.session.commit()
    clock[0] += 30
    assert 'title="77 reputation"' not in text(reader(app).get(path))
    clock[0] += 31
    assert 'title="77 reputation"' in text(reader(app).get(path))


# ------------------------------------------------------------------ every write shows at once


def _answer(w: dict[str, Any]) -> tuple[str, str]:
    ops.post_answer(w["thread"], w["voter"], body="Swap the power adapter, mine was faulty.")
    return "Swap the power adapter, mine was faulty.", ""


def _comment(w: dict[str, Any]) -> tuple[str, str]:
    ops.post_comment(w["voter"], w["thread"], body="Same here since Tuesday.", answer=w["answer"])
    return "Same here since Tuesday.", ""


def _vote_question(w: dict[str, Any]) -> tuple[str, str]:
    ops.cast_vote(w["voter"], "thread", w["thread"].id, 1)
    return '<span class="score static" title="score">1</span>', ""


def _vote_answer(w: dict[str, Any]) -> tuple[str, str]:
    ops.cast_vote(w["voter"], "answer", w["answer"].id, -1)
    return '<span class="score static" title="score">-1</span>', ""


def _accept(w: dict[str, Any]) -> tuple[str, str]:
    ops.accept_answer(w["thread"], w["answer"], w["ann"])
    return "Accepted answer: this worked", OPEN


def _unaccept(w: dict[str, Any]) -> tuple[str, str]:
    ops.unaccept_answer(w["thread"], w["ann"])
    return OPEN, "Accepted answer: this worked"


def _edit_question(w: dict[str, Any]) -> tuple[str, str]:
    thread = w["thread"]
    body = "Since this morning the light is amber; a reboot did not help at all."
    ops.edit_thread(thread, w["ann"], title=thread.title, body=body, tags="router")
    return body, 'href="/tags/hub-3"'


def _edit_answer(w: dict[str, Any]) -> tuple[str, str]:
    ops.edit_answer(w["answer"], w["bob"], body="Hold the power button for thirty seconds.")
    return "Hold the power button for thirty seconds.", ANSWER


def _hide_answer(w: dict[str, Any]) -> tuple[str, str]:
    flag = ops.flag_post(w["voter"], "answer", w["answer"].id, reason="Wrong advice")
    ops.resolve_flag(flag, w["mod"], "hide")
    return "0 answers", ANSWER


def _hide_comment(w: dict[str, Any]) -> tuple[str, str]:
    comment = db.session.scalars(select(Comment)).first()
    ops.resolve_flag(
        ops.flag_post(w["voter"], "comment", comment.id, reason="Rude remark"), w["mod"], "hide"
    )
    return "", "Which model of hub is it exactly?"


def _close_duplicate(w: dict[str, Any]) -> tuple[str, str]:
    original = ops.ask_thread(
        w["voter"], title="Amber light on the Hub 3 again", body="Amber light, nothing works.",
        tags="router",
    )  # fmt: skip
    vote_duplicate(w["thread"], original, w["mod"])
    return "This question has been asked before.", "Your answer"


def _reopen(w: dict[str, Any]) -> tuple[str, str]:
    _close_duplicate(w)
    unmark_duplicate(w["thread"], w["mod"])
    return "Your answer", "This question has been asked before."


def _publish_article(w: dict[str, Any]) -> tuple[str, str]:
    ops.accept_answer(w["thread"], w["answer"], w["ann"])
    article = promote_thread(w["thread"], w["staff"])
    update_article(
        article, w["staff"], title="Fix an amber Hub 3 light", summary="Restart the hub properly.",
        body=article.body_md, tags="router", publish=True,
    )  # fmt: skip
    return "This solution is now a help article", ""


WRITES: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "new answer": _answer,
    "new comment": _comment,
    "vote on the question": _vote_question,
    "vote on an answer": _vote_answer,
    "accept": _accept,
    "unaccept": _unaccept,
    "edit the question": _edit_question,
    "edit an answer": _edit_answer,
    "flag hides an answer": _hide_answer,
    "flag hides a comment": _hide_comment,
    "close as duplicate": _close_duplicate,
    "reopen a duplicate": _reopen,
    "publish the thread's article": _publish_article,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_write_shows_to_the_next_logged_out_reader(app, world, renders, write):
    if write is _unaccept:
        ops.accept_answer(world["thread"], world["answer"], world["ann"])
    path = path_of(world["thread"])
    assert reader(app).get(path).status_code == 200
    assert reader(app).get(path).status_code == 200
    assert len(renders) == 1  # the page is cached

    shown, gone = write(world)
    page = text(reader(app).get(path))

    assert len(renders) == 2
    assert shown in page
    if gone:
        assert gone not in page


def test_a_reimport_shows_at_once(app, renders):
    line = (
        '{"key": "forum-7", "title": "Stream box keeps rebooting", "body": "It reboots every '
        'night around two.", "author": "kim", "answers": [{"body": "%s", "author": "lee"}]}'
    )
    import_lines([line % "Turn off automatic updates in settings."], procs=1)
    thread = db.session.scalar(select(Thread).where(Thread.key == "forum-7"))
    path = path_of(thread)
    assert "Turn off automatic updates" in text(reader(app).get(path))

    import_lines([line % "Replace the power supply, it is a known fault."], procs=1)

    page = text(reader(app).get(path))
    assert "Replace the power supply" in page and "Turn off automatic updates" not in page


def test_a_direct_change_without_a_version_bump_is_not_seen(app, world):
    """The cache is really used: a write that skips the operations is invisible until the TTL."""
    path = path_of(world["thread"])
    reader(app).get(path)
    db.session.execute(
        update(type(world["answer"]))
        .where(type(world["answer"]).id == world["answer"].id)
        .values(body_html="<p>Changed behind the cache's back.</p>")
    )
    db.session.commit()

    assert "behind the cache" not in text(reader(app).get(path))
    ops.touch_thread(world["thread"].id)
    db.session.commit()
    assert "behind the cache" in text(reader(app).get(path))


# ------------------------------------------------------------------ addresses


def test_redirects_and_404s_still_work_with_a_warm_cache(app, world, make_thread):
    thread = world["thread"]
    canonical = path_of(thread)
    client = reader(app)
    assert client.get(canonical).status_code == 200

    for wrong in (f"/t/{thread.id}", f"/t/{thread.id}/wrong-slug", f"/t/0{thread.id}/x"):
        response = client.get(wrong)
        assert response.status_code == 301, wrong
        assert response.headers["Location"] == canonical, wrong
    assert client.get("/t/424242/anything").status_code == 404
    assert client.get("/t/424242").status_code == 404


def test_a_retitled_thread_redirects_from_its_old_address(app, world):
    thread, old = world["thread"], path_of(world["thread"])
    assert reader(app).get(old).status_code == 200

    ops.edit_thread(thread, world["ann"], title="Hub 3 amber light after the storm",
                    body=thread.body_md, tags="router")  # fmt: skip

    response = reader(app).get(old)
    assert response.status_code == 301
    assert response.headers["Location"] == f"/t/{thread.id}/hub-3-amber-light-after-the-storm"
    assert "Hub 3 amber light after the storm" in text(
        reader(app).get(response.headers["Location"])
    )


def test_a_hidden_thread_is_404_at_once_but_moderators_still_see_it(app, client, world):
    thread = world["thread"]
    assert reader(app).get(path_of(thread)).status_code == 200

    flag = ops.flag_post(world["voter"], "thread", thread.id, reason="Spam advert")
    ops.resolve_flag(flag, world["mod"], "hide")

    assert reader(app).get(path_of(thread)).status_code == 404
    login(client, "mia")
    assert "hidden by moderators" in text(client.get(path_of(thread)))


# ------------------------------------------------------------------ nothing personal


def test_logged_in_readers_never_get_or_fill_the_cache(app, client, world, renders):
    thread, answer = world["thread"], world["answer"]
    ops.cast_vote(world["voter"], "answer", answer.id, 1)
    path = path_of(thread)
    login(client, "vic")

    mine = text(client.get(path))
    assert len(cache_of(app)) == 0  # a logged-in page is never kept
    assert 'aria-pressed="true"' in mine and "Add a comment" in mine and "Log out" in mine

    anonymous = text(reader(app).get(path))  # fills the cache
    assert 'aria-pressed="true"' not in anonymous and "Add a comment" not in anonymous
    assert "Log out" not in anonymous

    again = text(client.get(path))
    assert 'aria-pressed="true"' in again and "Log out" in again
    assert renders == [thread.id] * 3


def test_a_pending_flash_is_shown_once_and_never_cached(app, world, renders):
    path = path_of(world["thread"])
    reader(app).get(path)  # a warm cache
    flashed = reader(app)
    assert flashed.get("/ask").status_code == 302  # "Log in to do that."

    page = text(flashed.get(path))
    assert "Log in to do that." in page
    assert len(renders) == 2  # rendered for this reader, not served from the cache

    assert "Log in to do that." not in text(reader(app).get(path))
    assert "Log in to do that." not in text(flashed.get(path))  # shown once
    assert len(renders) == 2


def test_each_reader_gets_their_own_csrf_token_and_nonce(app, world):
    thread = world["thread"]
    ops.accept_answer(thread, world["answer"], world["ann"])  # solved: "was this helpful?" form
    path = path_of(thread)
    one, two = reader(app), reader(app)

    pages = [one.get(path), two.get(path)]
    tokens = [TOKEN.search(p.get_data(as_text=True)).group(1) for p in pages]
    nonces = [NONCE.search(p.headers["Content-Security-Policy"]).group(1) for p in pages]

    assert tokens[0] != tokens[1] and nonces[0] != nonces[1]
    for page, nonce in zip(pages, nonces, strict=True):
        body = page.get_data(as_text=True)
        assert f'<script nonce="{nonce}" type="application/ld+json">' in body
        assert cache_of(app).csrf_mark not in body and cache_of(app).nonce_mark not in body
    # Someone else's token is refused; your own works.
    stolen = two.post(
        f"/feedback/thread/{thread.id}", data={"helpful": "yes", "csrf_token": tokens[0]}
    )
    assert stolen.status_code == 400
    own = two.post(
        f"/feedback/thread/{thread.id}", data={"helpful": "yes", "csrf_token": tokens[1]}
    )
    assert own.status_code == 302
    assert "Thanks for telling us." in text(two.get(path))


def test_a_reader_who_gave_feedback_sees_the_thanks_others_the_form(app, world, renders):
    thread = world["thread"]
    ops.accept_answer(thread, world["answer"], world["ann"])
    path = path_of(thread)
    gave = reader(app)
    token = TOKEN.search(gave.get(path).get_data(as_text=True)).group(1)
    gave.post(f"/feedback/thread/{thread.id}", data={"helpful": "no", "csrf_token": token})
    gave.get(path)  # the flash

    assert "Thanks for your answer." in text(gave.get(path))
    other = text(reader(app).get(path))
    assert "Thanks for your answer." not in other and "Yes, it helped" in other


# ------------------------------------------------------------------ size


@pytest.fixture
def small_app(tmp_path: Path) -> Iterator[Callable[..., tuple[Flask, list[str]]]]:
    """make(titles, **settings): an app of its own with a few threads, and their paths."""
    from kb import create_app
    from kb.users import create_user

    made: list[Flask] = []

    def make(titles: list[str], **config: Any) -> tuple[Flask, list[str]]:
        folder = tmp_path / str(len(made))
        folder.mkdir()
        app = create_app(app_config(folder, **config))
        made.append(app)
        with app.app_context():
            db.create_all()
            ann = create_user("ann", email="ann@example.com", password="correct horse battery")
            body = "The light on my hub is amber and nothing connects at all."
            paths = [
                path_of(ops.ask_thread(ann, title=t, body=body, tags="router")) for t in titles
            ]
            db.session.remove()
        return app, paths

    yield make
    for app in made:
        with app.app_context():
            app.extensions["kb_search"].close()
            db.engine.dispose()


def test_the_cache_keeps_to_its_byte_bound(small_app):
    titles = [f"Question number {n} about the amber light" for n in range(12)]
    small, paths = small_app(titles, PAGE_CACHE_MB=0.05)  # about 52 kB
    client = small.test_client()
    for path in paths:
        assert client.get(path).status_code == 200
    cache = cache_of(small)

    assert 0 < len(cache) < len(paths)
    assert cache.size <= cache.max_bytes == 52428
    assert cache.get(paths[-1], 0) is not None  # the newest stays, the oldest went
    assert cache.get(paths[0], 0) is None


def test_page_cache_mb_0_turns_it_off(small_app):
    off, [path] = small_app(["Amber light on my hub"], PAGE_CACHE_MB=0)

    assert off.test_client().get(path).status_code == 200
    assert len(cache_of(off)) == 0
