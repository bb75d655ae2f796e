"""The concierge pages: the staff queue with its measures, and the public unanswered list."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from kb.concierge import service
from kb.concierge.compose import tweet_length
from kb.concierge.models import Click, LinkSuggestion, Mention, Reply, ShortLink
from kb.db import db
from kb.models import utcnow
from kb.threads import accept_answer
from tests.conftest import csrf_token, login, post_form

ACCOUNT_ID, ACCOUNT = "1500000000000000001", "SkylarkHelps"
SOLVED_TITLE = "Hub 3 light is amber and nothing connects"
AMBER = "@SkylarkHelps my hub 3 light is amber and nothing connects, help?"
FRIDGE = "@SkylarkHelps @bob_neighbour how do I pair my smart fridge with the toaster?"
_ids = iter(range(1, 10_000))


def tweet(text: str, user: str = "dana", minutes_ago: float = 5.0) -> SimpleNamespace:
    """A mention as the X gateway returns it."""
    n = next(_ids)
    tweet_id = str(1_900_000_000_000_000_000 + n)
    return SimpleNamespace(
        id=tweet_id, text=text, author_id=str(7000 + n), author_username=user,
        created_at=utcnow() - timedelta(minutes=minutes_ago), conversation_id=tweet_id,
        in_reply_to_id=None, is_repost=False, lang="en",
    )  # fmt: skip


def ingest(*tweets: SimpleNamespace) -> list[Mention]:
    """Store and decide mentions the way the worker does."""
    service.store_mentions(list(tweets), None)
    service.decide_pending(ACCOUNT_ID, ACCOUNT)
    ids = [t.id for t in tweets]
    return list(db.session.scalars(select(Mention).where(Mention.tweet_id.in_(ids))))


def flashes(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<p class="flash flash-(\w+)">(.*?)</p>', html)


def stats(html: str) -> dict[str, str]:
    return dict(re.findall(r"<div><dt>(.*?)</dt><dd>(.*?)</dd></div>", html))


def text(value: str) -> str:
    return str(escape(value))


@pytest.fixture
def solved(make_user, make_thread, make_answer) -> Any:
    """A solved thread the concierge can match."""
    asker = make_user("asker")
    thread = make_thread(
        title=SOLVED_TITLE,
        body="Since this morning the light on my Hub 3 is amber and no device connects.",
        author=asker,
    )
    answer = make_answer(
        thread, body="Hold the power button for ten seconds and the light turns white again."
    )
    accept_answer(thread, answer, asker)
    return SimpleNamespace(thread=thread, answer=answer)


@pytest.fixture
def staff(client, make_user) -> Any:
    user = make_user("sam", role="staff")
    login(client, "sam")
    return user


@pytest.fixture
def drafts(solved) -> dict[str, Mention]:
    """One matched mention (answer draft) and one unanswered mention (ask-the-community draft)."""
    amber, fridge = ingest(tweet(AMBER, "dana"), tweet(FRIDGE, "erin"))
    assert amber.matched_title == SOLVED_TITLE and not amber.unanswered
    assert fridge.unanswered
    return {"amber": amber, "fridge": fridge}


def act(client, reply: Reply, **data: str) -> Any:
    return post_form(client, f"/concierge/replies/{reply.id}", data, token_from="/concierge")


# ----- who may see the queue ----------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/concierge")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "concierge" in response.headers["Location"]


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_members_and_moderators_are_refused(client, make_user, drafts, role):
    make_user("pat", role=role)
    login(client, "pat")
    assert client.get("/concierge").status_code == 403
    reply = drafts["amber"].replies[0]
    token = csrf_token(client, "/")
    for path, data in [
        (f"/concierge/replies/{reply.id}", {"action": "approve"}),
        (f"/concierge/replies/{reply.id}", {"action": "reject"}),
    ]:
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 403
    db.session.refresh(reply)
    assert reply.state == "draft" and reply.approved_by_id is None


# ----- the queue ----------------------------------------------------------------------------


def test_staff_see_each_draft_with_its_facts(client, staff, drafts):
    html = client.get("/concierge").get_data(as_text=True)
    assert "Drafts to review (2)" in html
    for mention in drafts.values():
        reply = mention.replies[0]
        card = html.split(f'id="reply-{reply.id}"', 1)[1].split("</article>", 1)[0]
        assert f"@{mention.author_username}" in card
        assert text(mention.text) in card
        assert f"<dd>{text(mention.decision)}: {text(mention.reason)}</dd>" in card
        assert f"<dd>{mention.confidence:.2f}</dd>" in card
        assert f"Reply ({tweet_length(reply.text)}/280 as X counts)" in card
        assert f">{text(reply.text)}</textarea>" in card
        assert "Approve and send" in card and "Reject" in card
    amber = html.split(f'id="reply-{drafts["amber"].replies[0].id}"', 1)[1]
    assert f"<dd>thread: {SOLVED_TITLE}</dd>" in amber.split("</article>", 1)[0]
    assert "reply type" in html.lower() and "ask community" in html


def test_approve_as_written(client, staff, drafts):
    reply = drafts["amber"].replies[0]
    original = reply.text
    response = act(client, reply, action="approve", text=original)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/concierge#reply-{reply.id}")
    page = client.get("/concierge").get_data(as_text=True)
    assert ("success", "Approved. The concierge sends it on its next pass.") in flashes(page)
    db.session.refresh(reply)
    assert (reply.state, reply.text, reply.approved_by_id) == ("approved", original, staff.id)
    assert reply.approved_at is not None
    assert "Drafts to review (1)" in page and "Sending (1)" in page


def test_approve_with_edited_text(client, staff, drafts):
    reply = drafts["amber"].replies[0]
    url = re.search(r"https://\S+", reply.text).group(0)
    edited = f"@dana   Hold the power button for ten seconds:\n{url}"
    act(client, reply, action="approve", text=edited)
    db.session.refresh(reply)
    assert reply.state == "approved"
    assert reply.text == f"@dana Hold the power button for ten seconds: {url}"


@pytest.mark.parametrize(
    "edited, message",
    [
        # 146 characters, but CJK counts double: 6 + 2 * 140 = 286 as X counts them.
        ("@dana " + "日" * 140, "That is 286 characters as X counts them; the limit is 280."),
        ("@dana " + "x" * 275, "That is 281 characters as X counts them; the limit is 280."),
        ("Hold the power button.", "A reply starts with @dana."),
        ("   ", "A reply needs some text."),
    ],
)
def test_an_edit_that_breaks_the_rules_changes_nothing(client, staff, drafts, edited, message):
    reply = drafts["amber"].replies[0]
    before = (reply.text, reply.state)
    response = act(client, reply, action="approve", text=edited)
    assert response.status_code == 302
    page = client.get("/concierge").get_data(as_text=True)
    assert ("error", text(message)) in flashes(page)
    db.session.expire_all()
    reply = db.session.get(Reply, reply.id)
    assert (reply.text, reply.state, reply.approved_by_id) == (*before, None)
    assert "Drafts to review (2)" in page


def test_exactly_280_weighted_is_allowed(client, staff, drafts):
    reply = drafts["amber"].replies[0]
    edited = "@dana " + "日" * 137
    assert tweet_length(edited) == 280
    act(client, reply, action="approve", text=edited)
    db.session.refresh(reply)
    assert (reply.state, reply.text) == ("approved", edited)


def test_reject(client, staff, drafts):
    reply = drafts["fridge"].replies[0]
    act(client, reply, action="reject")
    page = client.get("/concierge").get_data(as_text=True)
    assert ("info", "Rejected. Nothing will be sent.") in flashes(page)
    db.session.refresh(reply)
    assert reply.state == "rejected"
    assert f'id="reply-{reply.id}"' not in page
    # A rejected reply cannot be approved afterwards.
    act(client, reply, action="approve", text=reply.text)
    assert ("error", "Only drafts can be approved.") in flashes(
        client.get("/concierge").get_data(as_text=True)
    )
    db.session.refresh(reply)
    assert reply.state == "rejected"


def test_unknown_reply_and_unknown_action(client, staff, drafts):
    token = csrf_token(client, "/concierge")
    missing = client.post("/concierge/replies/999", data={"action": "approve", "csrf_token": token})
    assert missing.status_code == 404
    reply = drafts["amber"].replies[0]
    response = client.post(
        f"/concierge/replies/{reply.id}", data={"action": "send-now", "csrf_token": token}
    )
    assert response.status_code == 400
    assert (
        client.post(f"/concierge/replies/{reply.id}", data={"action": "approve"}).status_code == 400
    )
    db.session.refresh(reply)
    assert reply.state == "draft"


# ----- measures -----------------------------------------------------------------------------


def _sent(mention: Mention, minutes: float, path: str | None) -> Reply:
    """A reply sent `minutes` after the mention was posted."""
    reply = service.draft_reply(
        mention, kind="answer" if path else "private", topic="Hub", target_path=path,
        confidence=0.9,
    )  # fmt: skip
    reply.state, reply.tweet_id = "sent", f"18{mention.id:017d}"
    reply.sent_at = mention.created_at + timedelta(minutes=minutes)
    db.session.commit()
    return reply


def test_measures_reflect_the_data(client, app, staff, make_thread, make_answer, make_user):
    base = datetime(2026, 3, 1, 9, 0)

    def mention(decision: str, n: int, **extra: Any) -> Mention:
        row = Mention(
            tweet_id=f"19{n:017d}", author_id=str(500 + n), author_username=f"cust{n}",
            text=f"@SkylarkHelps question {n}", created_at=base, decision=decision,
            reason="test", cleaned=f"question {n}", **extra,
        )  # fmt: skip
        db.session.add(row)
        db.session.commit()
        return row

    helps = [mention("help", n) for n in range(1, 6)]
    private = mention("private", 6)
    mention("opt_out", 7)
    mention("ignore", 8)
    mention("ignore", 9)
    mention("new", 10)
    path = "/t/1/hub"
    linked = [_sent(m, minutes, path) for m, minutes in zip(helps, (2, 4, 6, 8, 10), strict=True)]
    _sent(private, 30, None)  # sent, no link: counts for speed, not for clicks

    # Threads asked from mentions: two, one of them solved.
    asker = make_user("asker")
    open_thread = make_thread(title="Stream box keeps buffering", author=asker)
    solved_thread = make_thread(title="Wi-Fi drops every evening", author=asker)
    accept_answer(solved_thread, make_answer(solved_thread), asker)
    service.link_thread_to_mention(open_thread, helps[0].id)
    service.link_thread_to_mention(solved_thread, helps[1].id)

    browser = {"User-Agent": "Mozilla/5.0 Safari", "Referer": "https://t.co/x"}
    for _ in range(3):
        assert client.get(f"/s/{linked[0].short_code}", headers=browser).status_code == 302
    client.get(f"/s/{linked[1].short_code}", headers=browser)
    client.get(f"/s/{linked[2].short_code}", headers={"User-Agent": "Twitterbot/1.0"})

    html = client.get("/concierge").get_data(as_text=True)
    got = stats(html)
    assert got["Mentions received"] == "10"
    assert got["Replies sent"] == "6"
    # Waits 2, 4, 6, 8, 10, 30 minutes.
    assert got["Median time to reply"] == "7.0 min"
    assert got["90th percentile"] == "20.0 min"  # within the waits seen, not beyond 30
    assert got["Clicks on reply links"] == "4"
    assert got["Click-through rate"] == "40%"  # 2 of 5 linked replies were clicked
    assert got["Threads asked from mentions"] == "2"
    assert got["…of which solved"] == "1"
    by_decision = dict(
        re.findall(
            r"<tr><td>([a-z ]+)</td><td>(\d+)</td></tr>", html.split("Mentions by decision")[1]
        )
    )
    assert by_decision == {"help": "5", "ignore": "2", "new": "1", "opt out": "1", "private": "1"}
    per_reply = html.split("Clicks per reply", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>.*?</td><td>(\d+)</td></tr>", per_reply)
    counts = {reply_text: int(n) for reply_text, n in rows}
    assert counts[text(linked[0].text)] == 3
    assert counts[text(linked[1].text)] == 1
    assert counts[text(linked[2].text)] == 0
    assert db.session.scalar(select(func.count(Click.id))) == 4


def test_measures_with_nothing_yet(client, staff):
    got = stats(client.get("/concierge").get_data(as_text=True))
    assert got["Mentions received"] == "0"
    assert got["Replies sent"] == "0"
    assert got["Median time to reply"] == "–"
    assert got["90th percentile"] == "–"
    assert got["Click-through rate"] == "–"


def test_percentile_of_one_and_two_replies(app):
    from kb.concierge.measures import compute

    base = datetime(2026, 3, 1, 9, 0)
    rows = []
    for n, minutes in ((1, 3), (2, 5)):
        row = Mention(
            tweet_id=f"19{n:017d}", author_id=str(n), author_username=f"c{n}", text="x",
            created_at=base, decision="help",
        )  # fmt: skip
        db.session.add(row)
        db.session.commit()
        rows.append(_sent(row, minutes, "/"))
        m = compute()
        assert m.p90_minutes is not None and m.median_minutes is not None
        assert min(3, minutes) <= m.p90_minutes <= minutes
        assert m.median_minutes <= m.p90_minutes


# ----- the public unanswered list -----------------------------------------------------------


def test_unanswered_is_public_and_hides_handles(client, drafts):
    response = client.get("/concierge/unanswered")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    fridge = drafts["fridge"]
    assert f'id="mention-{fridge.id}"' in html
    assert "smart fridge with the toaster" in html
    for secret in ("erin", "bob_neighbour", "@bob", ACCOUNT, "dana"):
        assert secret not in html
    assert f'id="mention-{drafts["amber"].id}"' not in html  # answered: not listed
    assert "Log in</a> to suggest" in html
    assert 'name="target"' not in html


def test_unanswered_redacts_private_data(client):
    db.session.add(
        Mention(
            tweet_id="1950000000000000001", author_id="9", author_username="zoe_private",
            text="@SkylarkHelps mail me at zoe.k@example.com or ring 07700 900123 about my fridge",
            cleaned="mail me at zoe.k@example.com or ring 07700 900123 about my fridge",
            decision="help", reason="question", unanswered=True,
        )
    )  # fmt: skip
    db.session.commit()
    html = client.get("/concierge/unanswered").get_data(as_text=True)
    assert "about my fridge" in html
    assert "[redacted]" in html
    for secret in ("zoe.k", "example.com", "07700", "900123", "zoe_private"):
        assert secret not in html


def test_unanswered_page_numbers(client):
    assert client.get("/concierge/unanswered?page=abc").status_code == 200
    assert client.get("/concierge/unanswered?page=99999999").status_code == 200
    assert client.get("/concierge/unanswered?page=-3").status_code == 200


# ----- suggesting a link --------------------------------------------------------------------


@pytest.fixture
def member(client, make_user) -> Any:
    user = make_user("mia")
    login(client, "mia")
    return user


def suggest(client, mention: Mention, target: str) -> Any:
    return post_form(
        client, f"/concierge/unanswered/{mention.id}/suggest", {"target": target},
        token_from="/concierge/unanswered",
    )  # fmt: skip


def suggestions() -> list[tuple[str, int, str]]:
    rows = db.session.scalars(select(LinkSuggestion).order_by(LinkSuggestion.id))
    return [(s.target_kind, s.target_id, s.status) for s in rows]


@pytest.mark.parametrize(
    "target, kind",
    [
        ("https://kb.skylark.example/t/{thread}/hub-3-light", "thread"),
        ("/t/{thread}/hub-3-light-is-amber", "thread"),
        ("/t/{thread}", "thread"),
        ("https://kb.skylark.example/t/{thread}/x#answer-{answer}", "answer"),
        ("#answer-{answer}", "answer"),
    ],
)
def test_a_member_suggests_a_link(client, member, drafts, solved, target, kind):
    fridge = drafts["fridge"]
    html = client.get("/concierge/unanswered").get_data(as_text=True)
    assert 'name="target"' in html
    target = target.format(thread=solved.thread.id, answer=solved.answer.id)
    response = suggest(client, fridge, target)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/concierge/unanswered#mention-{fridge.id}")
    page = client.get("/concierge/unanswered").get_data(as_text=True)
    assert ("success", "Thanks! Staff will review your suggestion.") in flashes(page)
    expected_id = solved.answer.id if kind == "answer" else solved.thread.id
    assert suggestions() == [(kind, expected_id, "open")]


def test_suggesting_the_same_link_twice(client, member, drafts, solved):
    path = f"/t/{solved.thread.id}/x"
    suggest(client, drafts["fridge"], path)
    suggest(client, drafts["fridge"], path)
    page = client.get("/concierge/unanswered").get_data(as_text=True)
    assert ("error", "You already suggested that link.") in flashes(page)
    assert len(suggestions()) == 1


@pytest.mark.parametrize(
    "target, message",
    [
        ("https://evil.com/phish", "Paste a link to a thread or an answer on this site."),
        ("https://evil.com/t/{thread}/hub", "Paste a link to a thread or an answer on this site."),
        ("//evil.com/t/{thread}/hub", "Paste a link to a thread or an answer on this site."),
        ("javascript:alert(1)//t/{thread}/", "Paste a link to a thread or an answer on this site."),
        ("https:/evil.com/t/{thread}/hub", "Paste a link to a thread or an answer on this site."),
        ("///evil.com/t/{thread}/hub", "Paste a link to a thread or an answer on this site."),
        ("/\\evil.com/t/{thread}/hub", "Paste a link to a thread or an answer on this site."),
        (
            "see /t/{thread}/hub and https://evil.com",
            "Paste a link to a thread or an answer on this site.",
        ),
        ("/t/987654/nothing-here", "That thread or answer does not exist."),
        ("#answer-987654", "That thread or answer does not exist."),
        ("/t/999999999999999999/x", "That thread or answer does not exist."),
        ("just restart it lol", "Paste a link to a thread or an answer on this site."),
        ("", "Paste a link to a thread or an answer on this site."),
        ("/t/abc/", "Paste a link to a thread or an answer on this site."),
        ("💥" * 500, "Paste a link to a thread or an answer on this site."),
    ],
)
def test_bad_suggestions_flash_and_write_nothing(client, member, drafts, solved, target, message):
    target = target.format(thread=solved.thread.id)
    response = suggest(client, drafts["fridge"], target)
    assert response.status_code == 302
    page = client.get("/concierge/unanswered").get_data(as_text=True)
    assert ("error", text(message)) in flashes(page)
    assert suggestions() == []


def test_hidden_thread_cannot_be_suggested(client, member, drafts, solved):
    solved.thread.hidden = True
    db.session.commit()
    suggest(client, drafts["fridge"], f"/t/{solved.thread.id}/x")
    assert suggestions() == []


def test_anonymous_cannot_suggest(client, drafts, solved):
    response = post_form(
        client, f"/concierge/unanswered/{drafts['fridge'].id}/suggest",
        {"target": f"/t/{solved.thread.id}/x"}, token_from="/login",
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert suggestions() == []


def test_answered_or_missing_mentions_cannot_get_suggestions(client, member, drafts, solved):
    assert suggest(client, drafts["amber"], f"/t/{solved.thread.id}/x").status_code == 404
    token = csrf_token(client, "/concierge/unanswered")
    response = client.post(
        "/concierge/unanswered/424242/suggest", data={"target": "/t/1/x", "csrf_token": token}
    )
    assert response.status_code == 404
    assert suggestions() == []


def become(client, make_user, name: str, role: str = "staff") -> Any:
    """Log out and back in as someone else.

    The `app` fixture keeps one app context open, so Flask's `g` (and Flask-Login's user in
    it) outlives each request: a second test client would see the first one's user. One
    client that logs out and in again keeps the users apart.
    """
    post_form(client, "/logout", {})
    make_user(name, role=role)
    login(client, name)
    return client


@pytest.mark.parametrize("kind", ["thread", "answer"])
def test_staff_use_a_suggestion_and_the_member_is_credited(
    client, member, drafts, solved, make_user, kind
):
    fridge = drafts["fridge"]
    old = fridge.replies[0]
    assert old.kind == "ask_community"
    target = f"/t/{solved.thread.id}/x" if kind == "thread" else f"/t/1/x#answer-{solved.answer.id}"
    suggest(client, fridge, target)
    [suggestion] = db.session.scalars(select(LinkSuggestion)).all()

    become(client, make_user, "sam")
    queue = client.get("/concierge").get_data(as_text=True)
    assert "Links suggested by the community" in queue
    assert "mia" in queue and "smart fridge" in queue
    response = post_form(
        client, f"/concierge/suggestions/{suggestion.id}", {"action": "approve"},
        token_from="/concierge",
    )  # fmt: skip
    assert response.status_code == 302
    queue = client.get("/concierge").get_data(as_text=True)
    assert ("success", "Thanks to mia: a reply draft is ready below.") in flashes(queue)
    assert "Links suggested by the community" not in queue

    db.session.expire_all()
    fridge = db.session.get(Mention, fridge.id)
    [reply] = fridge.replies
    assert (reply.kind, reply.state, reply.purpose) == ("answer", "draft", "reply")
    assert SOLVED_TITLE in reply.text
    # The "ask the community" draft is replaced, not kept beside the new one.
    assert db.session.scalar(select(func.count(Reply.id)).where(Reply.kind == "ask_community")) == 0
    assert f'id="reply-{reply.id}"' in queue and text(reply.text) in queue
    link = db.session.scalar(select(ShortLink).where(ShortLink.code == reply.short_code))
    assert link.mention_id == fridge.id
    assert (
        link.target_path == f"/t/{solved.thread.id}/{solved.thread.slug}#answer-{solved.answer.id}"
    )
    assert not fridge.unanswered
    assert f'id="mention-{fridge.id}"' not in client.get("/concierge/unanswered").get_data(
        as_text=True
    )

    profile = client.get("/u/mia").get_data(as_text=True)
    assert "Helped customers on X" in profile
    assert "mia suggested 1 link" in profile
    assert "smart fridge" in profile


def test_staff_decline_a_suggestion(client, member, drafts, solved, make_user):
    suggest(client, drafts["fridge"], f"/t/{solved.thread.id}/x")
    [suggestion] = db.session.scalars(select(LinkSuggestion)).all()
    become(client, make_user, "sam")
    post_form(
        client, f"/concierge/suggestions/{suggestion.id}", {"action": "decline"},
        token_from="/concierge",
    )  # fmt: skip
    assert suggestions() == [("thread", solved.thread.id, "declined")]
    db.session.expire_all()
    fridge = db.session.get(Mention, drafts["fridge"].id)
    assert fridge.unanswered and [r.kind for r in fridge.replies] == ["ask_community"]
    assert "Helped customers on X" not in client.get("/u/mia").get_data(as_text=True)


def test_members_cannot_approve_suggestions(client, member, drafts, solved):
    suggest(client, drafts["fridge"], f"/t/{solved.thread.id}/x")
    [suggestion] = db.session.scalars(select(LinkSuggestion)).all()
    token = csrf_token(client, "/concierge/unanswered")
    response = client.post(
        f"/concierge/suggestions/{suggestion.id}", data={"action": "approve", "csrf_token": token}
    )
    assert response.status_code == 403
    assert suggestions() == [("thread", solved.thread.id, "open")]


def test_a_suggestion_is_used_once(client, member, drafts, solved, make_user):
    suggest(client, drafts["fridge"], f"/t/{solved.thread.id}/x")
    [suggestion] = db.session.scalars(select(LinkSuggestion)).all()
    become(client, make_user, "sam")
    for _ in range(2):
        post_form(
            client, f"/concierge/suggestions/{suggestion.id}", {"action": "approve"},
            token_from="/concierge",
        )  # fmt: skip
    queue = client.get("/concierge").get_data(as_text=True)
    assert ("error", "This suggestion was already handled.") in flashes(queue)
    assert db.session.scalar(select(func.count(Reply.id)).where(Reply.kind == "answer")) == 2
