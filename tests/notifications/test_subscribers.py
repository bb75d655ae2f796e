"""Events become notifications: who hears about what, once, and never about themselves."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.db import db
from kb.notifications import operations as ops
from kb.notifications.models import Notification
from kb.notifications.subscribers import MAX_MENTIONS, mentioned_names
from kb.threads import accept_answer, ask_thread, post_comment

BODY = "Since this morning the light on my Hub 3 is amber and no device connects."


def inbox(user) -> list[tuple[str, int | None]]:
    """(kind, actor id) of a user's notifications, oldest first."""
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    )
    return [(n.kind, n.actor_id) for n in rows]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("thanks @ann and @Bob_2!", ["ann", "bob_2"]),
        ("@ann @ann @ANN", ["ann"]),
        ("mail ann@example.com or @cat.", ["cat"]),
        ("@ab is too short, @" + "x" * 31 + " too long", []),
        ("code `@ann` and\n```\n@bob\n```\nbut @cat", ["cat"]),
        ("(@dan) [@eve] @fay-g, @gus", ["dan", "eve", "fay-g", "gus"]),
        ("no mentions here", []),
    ],
)
def test_mentioned_names(text, names):
    assert mentioned_names(text) == names


def test_mentions_are_capped():
    text = " ".join(f"@user{i:03d}" for i in range(MAX_MENTIONS + 5))
    assert len(mentioned_names(text)) == MAX_MENTIONS


def test_new_answer_notifies_followers_but_not_the_answerer(make_user, make_thread, make_answer):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann)
    ops.follow_thread(cat, thread.id)
    answer = make_answer(thread, author=bob)
    assert inbox(ann) == [("answer", bob.id)]
    assert inbox(cat) == [("answer", bob.id)]
    assert inbox(bob) == []
    note = db.session.scalar(select(Notification).where(Notification.user_id == ann.id))
    assert note.answer_id == answer.id
    assert ops.notification_path(note) == f"/t/{thread.id}/{thread.slug}#answer-{answer.id}"
    assert ops.notification_text(note) == f'bob answered "{thread.title}"'


def test_answering_your_own_question_notifies_nobody_else(make_user, make_thread, make_answer):
    ann = make_user("ann")
    thread = make_thread(author=ann)
    make_answer(thread, author=ann)
    assert inbox(ann) == []


def test_new_comment_notifies_followers_but_not_the_commenter(make_user, make_thread, make_answer):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann)
    answer = make_answer(thread, author=bob)
    comment = post_comment(cat, thread, body="Same here since Tuesday.", answer=answer)
    assert inbox(ann)[-1] == ("comment", cat.id)
    assert inbox(bob) == [("comment", cat.id)]
    assert inbox(cat) == []  # commenting does not follow
    note = db.session.scalar(select(Notification).where(Notification.user_id == bob.id))
    assert (note.comment_id, note.answer_id) == (comment.id, answer.id)
    assert ops.notification_path(note).endswith(f"#comment-{comment.id}")


def test_unfollowed_thread_is_quiet(make_user, make_thread, make_answer):
    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    ops.unfollow_thread(ann, thread.id)
    make_answer(thread, author=bob)
    assert inbox(ann) == []


def test_acceptance_notifies_the_answerer_and_followers(make_user, make_thread, make_answer):
    ann, bob, cat, dan = (make_user(n) for n in ("ann", "bob", "cat", "dan"))
    thread = make_thread(author=ann)
    ops.follow_thread(cat, thread.id)
    answer = make_answer(thread, author=bob)
    make_answer(thread, author=dan, body="Try a factory reset with a paper clip, 30 s.")
    accept_answer(thread, answer, ann)
    # One notice for the acceptance, though bob also follows the thread.
    assert inbox(bob) == [("answer", dan.id), ("accepted", ann.id)]
    assert inbox(cat)[-1] == ("solved", ann.id)
    assert inbox(dan)[-1] == ("solved", ann.id)
    assert ("solved", ann.id) not in inbox(ann) and ("accepted", ann.id) not in inbox(ann)


def test_accepting_your_own_answer_notifies_only_followers(make_user, make_thread, make_answer):
    ann, cat = make_user("ann"), make_user("cat")
    thread = make_thread(author=ann)
    ops.follow_thread(cat, thread.id)
    answer = make_answer(thread, author=ann)
    accept_answer(thread, answer, ann)
    assert inbox(ann) == []
    assert inbox(cat) == [("answer", ann.id), ("solved", ann.id)]


def test_mention_in_an_answer_notifies_once(make_user, make_thread, make_answer):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann)
    make_answer(
        thread, author=bob, body="@cat had this too, @CAT knows: @cat @ann @nobody @bob restart it."
    )
    assert inbox(cat) == [("mention", bob.id)]
    assert inbox(ann) == [("mention", bob.id)]  # mention wins over the follower's "answer"
    assert inbox(bob) == []  # mentioning yourself is not news


def test_mention_in_a_question_and_a_comment(make_user, make_thread):
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    thread = make_thread(author=ann, body="Asking on behalf of @bob: the light is amber all day.")
    assert inbox(bob) == [("mention", ann.id)]
    post_comment(ann, thread, body="@cat did this happen to you too?")
    assert inbox(cat) == [("mention", ann.id)]
    assert inbox(bob)[-1] == ("mention", ann.id)  # bob does not follow: only his mention


def test_tag_followers_hear_of_new_questions(make_user, make_thread):
    ann, cat, dan = make_user("ann"), make_user("cat"), make_user("dan")
    make_thread(author=ann, tags=["router"])
    ops.follow_tag(cat, "router")
    ops.follow_tag(dan, "router")
    ops.follow_tag(ann, "router")
    ask_thread(ann, title="Router reboots itself at night", body=BODY, tags=["router", "wifi"])
    assert inbox(cat) == [("new_thread", ann.id)]
    assert inbox(dan) == [("new_thread", ann.id)]
    assert inbox(ann) == []


def test_a_refused_answer_notifies_nobody(make_user, make_thread):
    from kb.errors import ValidationError
    from kb.threads import post_answer

    ann, bob = make_user("ann"), make_user("bob")
    thread = make_thread(author=ann)
    with pytest.raises(ValidationError):
        post_answer(thread, bob, body="@ann short")
    assert inbox(ann) == []
