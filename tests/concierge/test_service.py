"""Concierge operations on stored mentions, without network: decide, approve, send state."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from html import unescape as html_unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kb.concierge import service
from kb.concierge.compose import tweet_length
from kb.concierge.models import LinkSuggestion, Mention, Reply, ShortLink, Suppression
from kb.db import db
from kb.errors import PermissionDenied, ValidationError
from kb.threads import accept_answer, unaccept_answer
from tests.conftest import login

ACCOUNT_ID = "1500000000000000001"
ACCOUNT = "SkylarkHelps"
BASE = "https://kb.skylark.example"
SHORT_LINK = re.compile(re.escape(BASE) + r"/s/(c[0-9A-Za-z]{7})$")
HUB_TITLE = "Hub 3 light is amber and nothing connects"
HUB_MENTION = f"@{ACCOUNT} my hub 3 light is amber and nothing connects, help?"
UNKNOWN_MENTION = f"@{ACCOUNT} how do I pair the quantum toaster with my smart fridge?"
ACCEPTED = (
    "Amber means the hub has no signal from the line. Turn off the hub and the fibre box, wait "
    "a minute, start the fibre box first, then the hub."
)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def solved(make_user: Callable[..., Any], make_thread: Callable[..., Any], make_answer: Any) -> Any:
    """A solved thread about the amber Hub 3 light (accepted answer), in the search index."""
    asker = make_user("asker")
    thread = make_thread(title=HUB_TITLE, author=asker, tags=("hub-3", "lights"))
    accept_answer(thread, make_answer(thread, body=ACCEPTED), asker)
    return thread


@pytest.fixture
def make_mention(app: Flask) -> Callable[..., Mention]:
    """Store a mention as the worker would: make_mention(text, author='maria', ...)."""
    ids = itertools.count(1_900_000_000_000_000_001)
    authors: dict[str, str] = {}

    def make(text: str, author: str = "maria", **extra: Any) -> Mention:
        tweet_id = str(next(ids))
        author_id = authors.setdefault(author.lower(), str(2000 + len(authors)))
        mention = Mention(
            tweet_id=tweet_id, author_id=author_id, author_username=author, text=text,
            conversation_id=extra.pop("conversation_id", tweet_id), **extra,
        )  # fmt: skip
        db.session.add(mention)
        db.session.commit()
        return mention

    return make


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    """A staff member who approves replies."""
    return make_user("sam_staff", role="staff")


def decide(mention: Mention) -> Mention:
    """Decide one mention as the concierge account."""
    return service.decide_mention(mention, ACCOUNT_ID, ACCOUNT)


def only_reply(mention: Mention) -> Reply:
    """The mention's single reply."""
    assert len(mention.replies) == 1, [(r.kind, r.state) for r in mention.replies]
    return mention.replies[0]


def link_target(reply: Reply) -> str:
    """The site path a reply's short link points at (the link must be the reply's last word)."""
    found = SHORT_LINK.search(reply.text)
    assert found, reply.text
    assert found.group(1) == reply.short_code
    link = db.session.scalar(select(ShortLink).where(ShortLink.code == reply.short_code))
    assert link is not None and link.mention_id == reply.mention_id
    return link.target_path


def count(model: Any) -> int:
    """Rows in a table."""
    return db.session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------------------- decisions


def test_help_with_a_good_match_drafts_an_answer(solved, make_mention, client: FlaskClient):
    mention = decide(make_mention(HUB_MENTION, author="maria"))

    assert mention.decision == "help" and mention.reason
    assert (mention.matched_kind, mention.matched_id) == ("thread", solved.id)
    assert mention.confidence >= 0.75 and not mention.unanswered
    reply = only_reply(mention)
    assert (reply.kind, reply.purpose, reply.state) == ("answer", "reply", "draft")
    assert not reply.auto
    assert reply.text.startswith("@maria ")
    assert HUB_TITLE in reply.text and tweet_length(reply.text) <= 280
    path = link_target(reply)
    assert path == f"/t/{solved.id}/{solved.slug}#answer-{solved.accepted_answer_id}"
    followed = client.get(f"/s/{reply.short_code}")
    assert followed.status_code == 302 and followed.headers["Location"] == path


def test_help_without_a_match_invites_the_community(solved, make_mention, client: FlaskClient):
    mention = decide(make_mention(UNKNOWN_MENTION, author="tom_t"))

    assert mention.decision == "help" and mention.unanswered and mention.matched_id is None
    reply = only_reply(mention)
    assert (reply.kind, reply.state) == ("ask_community", "draft")
    assert reply.text.startswith("@tom_t ") and tweet_length(reply.text) <= 280
    target = urlsplit(link_target(reply))
    assert target.path == "/ask"
    query = parse_qs(target.query)
    assert query["mention"] == [str(mention.id)]
    assert "quantum toaster" in query["title"][0].lower()

    page = client.get("/concierge/unanswered").get_data(as_text=True)
    assert f'id="mention-{mention.id}"' in page and "quantum toaster" in page


PRIVATE_MENTIONS = {
    "account and address": (
        f"@{ACCOUNT} STILL no engineer!! acct 88234571, 12 Larch Close, Harrogate HG2 7PL",
        ("88234571", "Larch", "HG2", "Harrogate"),
    ),
    "email": (f"@{ACCOUNT} wifi down, reach me on jo.bloggs@example.com", ("jo.bloggs", "example")),
    "card": (f"@{ACCOUNT} charged twice on card 4929 1234 5678 9012 help", ("4929", "9012")),
    "phone": (f"@{ACCOUNT} no dial tone on 01632 960 123 since monday", ("01632", "960")),
}


@pytest.mark.parametrize("text, secrets", PRIVATE_MENTIONS.values(), ids=PRIVATE_MENTIONS.keys())
def test_private_details_get_a_dm_link_and_are_never_repeated(
    app: Flask, make_mention, text: str, secrets: tuple[str, ...]
):
    mention = decide(make_mention(text, author="wayne"))

    assert mention.decision == "private" and mention.reason.startswith("contains")
    reply = only_reply(mention)
    assert reply.kind == "private" and reply.short_code is None
    assert reply.text.startswith("@wayne ")
    assert reply.text.endswith(f"https://twitter.com/messages/compose?recipient_id={ACCOUNT_ID}")
    for secret in secrets:
        assert secret not in reply.text


def test_opt_out_suppresses_the_author_until_they_opt_in(solved, make_mention):
    stop = decide(make_mention(f"@{ACCOUNT} stop replying to me", author="grumpy"))
    assert stop.decision == "opt_out" and stop.replies == []
    assert db.session.scalars(select(Suppression.author_id)).all() == [stop.author_id]

    later = decide(make_mention(HUB_MENTION, author="grumpy"))
    assert later.decision == "ignore" and "opted out" in later.reason and later.replies == []
    other = decide(make_mention(HUB_MENTION, author="happy"))
    assert other.decision == "help" and len(other.replies) == 1

    again = decide(make_mention(f"@{ACCOUNT} stop", author="grumpy"))
    assert again.decision == "opt_out" and count(Suppression) == 1

    start = decide(make_mention(f"@{ACCOUNT} you can reply to me again", author="grumpy"))
    assert start.decision == "opt_in" and start.replies == [] and count(Suppression) == 0
    back = decide(make_mention(HUB_MENTION, author="grumpy"))
    assert back.decision == "help" and only_reply(back).kind == "answer"


@pytest.mark.parametrize(
    "text",
    [
        f"@{ACCOUNT} thanks so much, the reset worked!",
        f"@{ACCOUNT} you lot are brilliant, best broadband ever",
        f"@{ACCOUNT} earn $500 a day with crypto, check my profile",
        f"@{ACCOUNT} FREE followers!! dm me for details",
    ],
    ids=["thanks", "praise", "spam", "spam-followers"],
)
def test_thanks_praise_and_spam_get_no_reply(solved, make_mention, text: str):
    mention = decide(make_mention(text))
    assert mention.decision == "no_reply" and mention.reason
    assert mention.replies == [] and count(Reply) == 0


def test_a_second_mention_in_a_replied_conversation_is_not_answered_again(
    solved, make_mention, staff
):
    first = decide(make_mention(HUB_MENTION, author="maria"))
    service.approve_reply(only_reply(first), staff)
    follow = make_mention(
        f"@{ACCOUNT} still amber, help?", author="maria",
        conversation_id=first.tweet_id, in_reply_to_id=first.tweet_id,
    )  # fmt: skip
    decide(follow)
    assert follow.decision == "already_replied" and follow.replies == []


def test_own_posts_reposts_and_bots_are_ignored(app: Flask, solved, make_mention):
    app.config["CONCIERGE_BOT_HANDLES"] = "statuswatch"
    own = decide(make_mention(HUB_MENTION, author=ACCOUNT.lower()))
    repost = decide(make_mention(f"RT @maria: {HUB_MENTION}", author="ed"))
    bot = decide(make_mention(HUB_MENTION, author="StatusWatch"))
    assert [m.decision for m in (own, repost, bot)] == ["ignore"] * 3
    assert [m.reason for m in (own, repost, bot)] == ["own post", "repost", "automated account"]
    assert count(Reply) == 0


# ---------------------------------------------------------------------------- staff actions


def test_approve_checks_edits_again(solved, make_mention, staff, make_user):
    reply = only_reply(decide(make_mention(HUB_MENTION, author="maria")))

    with pytest.raises(PermissionDenied):
        service.approve_reply(reply, make_user("member"))
    too_long = "@maria " + "a" * 274
    assert tweet_length(too_long) == 281
    with pytest.raises(ValidationError) as err:
        service.approve_reply(reply, staff, text=too_long)
    assert err.value.message == "That is 281 characters as X counts them; the limit is 280."
    with pytest.raises(ValidationError, match="starts with @maria"):
        service.approve_reply(reply, staff, text="Hello! This should sort it")
    with pytest.raises(ValidationError, match="needs some text"):
        service.approve_reply(reply, staff, text=" \n ")
    db.session.refresh(reply)
    assert reply.state == "draft" and reply.text != too_long

    fits = "@maria " + "a" * 273
    service.approve_reply(reply, staff, text=fits + "  ")
    db.session.refresh(reply)
    assert (reply.state, reply.text, reply.approved_by_id) == ("approved", fits, staff.id)
    with pytest.raises(ValidationError, match="Only drafts"):
        service.approve_reply(reply, staff)


def test_reject(solved, make_mention, staff):
    reply = only_reply(decide(make_mention(HUB_MENTION)))
    service.reject_reply(reply, staff)
    assert reply.state == "rejected"
    assert service.claim_next() is None
    with pytest.raises(ValidationError):
        service.reject_reply(reply, staff)


def test_autosend_approves_only_confident_answers(app: Flask, solved, make_mention):
    app.config.update(CONCIERGE_AUTOSEND=True, CONCIERGE_AUTOSEND_THRESHOLD=0.75)
    sure = decide(make_mention(HUB_MENTION, author="maria"))
    unsure = decide(make_mention(f"@{ACCOUNT} amber light on the hub again, no internet at all"))
    unknown = decide(make_mention(UNKNOWN_MENTION, author="tom_t"))
    private = decide(make_mention(f"@{ACCOUNT} my account number is 88234571 and wifi is down"))

    assert sure.confidence >= 0.75 > unsure.confidence >= 0.4
    assert (only_reply(sure).state, only_reply(sure).auto) == ("approved", True)
    assert only_reply(sure).approved_at is not None
    assert [(only_reply(m).kind, only_reply(m).state) for m in (unsure, unknown, private)] == [
        ("answer", "draft"),
        ("ask_community", "draft"),
        ("private", "draft"),
    ]

    app.config["CONCIERGE_AUTOSEND"] = False
    off = decide(make_mention(HUB_MENTION, author="another"))
    assert only_reply(off).state == "draft"


def test_budgets_stop_claim_next(app: Flask, solved, make_mention, staff):
    app.config.update(CONCIERGE_AUTHOR_HOURLY_BUDGET=2, CONCIERGE_HOURLY_BUDGET=3)
    chatty = [decide(make_mention(HUB_MENTION, author="chatty")) for _ in range(3)]
    others = [decide(make_mention(HUB_MENTION, author=f"cust{i}")) for i in range(3)]
    for mention in chatty + others:
        service.approve_reply(only_reply(mention), staff)

    claimed = []
    while (reply := service.claim_next()) is not None:
        assert reply.state == "sending"
        service.mark_sent(reply, str(9000 + reply.id))
        claimed.append(reply.mention.author_username)
    # The third reply to "chatty" waits for the author budget; the overall budget stops at 3.
    assert claimed == ["chatty", "chatty", "cust0"]
    states = {m.author_username: only_reply(m).state for m in chatty[2:] + others[1:]}
    assert set(states.values()) == {"approved"}

    app.config["CONCIERGE_HOURLY_BUDGET"] = 100
    reply = service.claim_next()
    assert reply is not None and reply.mention.author_username == "cust1"


def test_an_author_over_budget_does_not_hold_up_everyone_else(app: Flask, solved, make_mention):
    app.config.update(
        CONCIERGE_AUTHOR_HOURLY_BUDGET=1, CONCIERGE_AUTOSEND=True, CONCIERGE_AUTOSEND_THRESHOLD=0.0
    )
    for i in range(25):  # one customer tweets the same problem again and again
        decide(make_mention(f"{HUB_MENTION} ({i})", author="angry"))
    patient = decide(make_mention(HUB_MENTION, author="patient"))
    assert db.session.scalar(select(func.count()).where(Reply.state == "approved")) == 26

    first = service.claim_next()
    assert first is not None and first.mention.author_username == "angry"
    service.mark_sent(first, "9001")
    second = service.claim_next()
    assert second is not None and second.mention_id == patient.id
    service.mark_sent(second, "9002")
    assert service.claim_next() is None


def test_send_states(solved, make_mention, staff):
    reply = only_reply(decide(make_mention(HUB_MENTION)))
    service.approve_reply(reply, staff)
    assert service.claim_next() is reply and reply.attempts == 1
    assert service.sending_replies() == [reply]
    assert service.claim_next() is None  # nothing is claimed twice

    service.mark_retry(reply, "X unavailable", delay=3600)
    assert reply.state == "approved" and reply.error == "X unavailable"
    assert service.claim_next() is None  # not due yet
    service.mark_retry(reply, "try now", delay=0)
    assert service.claim_next() is reply and reply.attempts == 2
    service.mark_sent(reply, "1234")
    assert (reply.state, reply.tweet_id, reply.error) == ("sent", "1234", "")
    assert service.sending_replies() == []


def test_store_mentions_is_idempotent_and_moves_the_cursor(app: Flask):
    from kb.concierge.x_api import Mention as XMention

    def item(tweet_id: str) -> XMention:
        return XMention(
            id=tweet_id, text=f"@{ACCOUNT} help {tweet_id}", author_id="77", author_username="al",
            created_at=None, conversation_id=tweet_id, in_reply_to_id=None, is_repost=False,
            lang="en", raw={},
        )  # fmt: skip

    assert service.store_mentions([item("105"), item("101")], "105") == 2
    assert service.store_mentions([item("105"), item("101"), item("99")], "105") == 1
    assert service.get_state(service.CURSOR) == "105"
    assert service.store_mentions([], "110") == 0
    assert service.get_state(service.CURSOR) == "110"
    assert count(Mention) == 3


# ---------------------------------------------------------------------------- the community


def test_a_suggested_link_becomes_the_reply_and_credits_the_member(
    solved, make_mention, staff, make_user, client: FlaskClient
):
    mention = decide(make_mention(UNKNOWN_MENTION, author="tom_t"))
    helper = make_user("helpful_hana")
    with pytest.raises(ValidationError, match="Paste a link"):
        service.suggest_link(mention, helper, target="the hub thread")
    with pytest.raises(ValidationError, match="does not exist"):
        service.suggest_link(mention, helper, target=f"{BASE}/t/999/nothing")
    url = f"{BASE}/t/{solved.id}/{solved.slug}#answer-{solved.accepted_answer_id}"
    suggestion = service.suggest_link(mention, helper, target=url)
    assert (suggestion.target_kind, suggestion.target_id) == ("answer", solved.accepted_answer_id)
    with pytest.raises(ValidationError, match="already suggested"):
        service.suggest_link(mention, helper, target=url)
    with pytest.raises(PermissionDenied):
        service.approve_suggestion(suggestion, helper)

    reply = service.approve_suggestion(suggestion, staff)
    db.session.refresh(mention)
    assert suggestion.status == "approved" and not mention.unanswered
    assert mention.matched_id == solved.id
    assert mention.replies == [reply]  # the "ask the community" draft is replaced
    assert (reply.kind, reply.purpose, reply.state) == ("answer", "reply", "draft")
    assert reply.text.startswith("@tom_t ") and HUB_TITLE in reply.text
    assert link_target(reply) == f"/t/{solved.id}/{solved.slug}#answer-{solved.accepted_answer_id}"
    with pytest.raises(ValidationError, match="already handled"):
        service.approve_suggestion(suggestion, staff)

    page = client.get("/u/helpful_hana").get_data(as_text=True)
    assert "Helped customers on X" in page and "suggested 1 link" in page
    assert db.session.scalar(select(func.count(LinkSuggestion.id))) == 1


def _ask_through_the_reply_link(client: FlaskClient, reply: Reply) -> str:
    """Follow a reply's short link to the ask form and return the form's HTML."""
    followed = client.get(f"/s/{reply.short_code}")
    assert followed.status_code == 302 and followed.headers["Location"].startswith("/ask?")
    form = client.get(followed.headers["Location"])
    assert form.status_code == 200
    return form.get_data(as_text=True)


def _submit_ask_form(client: FlaskClient, html: str, **typed: str) -> Any:
    """Post the ask form as a browser would: its hidden and prefilled fields plus what we type.
    If the site first shows similar questions, choose "none of these" and post again."""
    for _ in range(2):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
        title = re.search(r'name="title" type="text" value="([^"]*)"', html)
        data = {"title": html_unescape(title.group(1)) if title else "", **fields, **typed}
        response = client.post("/ask", data=data)
        if response.status_code != 200 or 'name="confirmed"' not in response.text:
            return response
        html = response.get_data(as_text=True)
    return response


def test_asking_from_the_link_then_solving_sends_one_follow_up(
    solved, make_mention, make_user, client: FlaskClient
):
    mention = decide(make_mention(UNKNOWN_MENTION, author="tom_t"))
    asker = make_user("tom")
    login(client, "tom")
    html = _ask_through_the_reply_link(client, only_reply(mention))
    assert f'<input type="hidden" name="mention" value="{mention.id}">' in html
    assert re.search(r'name="title" type="text" value="[^"]*quantum toaster', html, re.I)

    posted = _submit_ask_form(
        client, html, body="Tried the pairing button for ten seconds, nothing on the fridge.",
        tags="toaster",
    )  # fmt: skip
    assert posted.status_code == 302, posted.get_data(as_text=True)[:300]
    db.session.refresh(mention)
    thread = mention.thread_id and db.session.get(type(solved), mention.thread_id)
    assert thread and thread.author_id == asker.id
    assert "quantum toaster" in thread.title.lower()

    from kb.threads import post_answer

    first = post_answer(thread, make_user("fixer"), body="Hold both buttons for twenty seconds.")
    second = post_answer(thread, make_user("fixer2"), body="Update the fridge firmware first.")
    accept_answer(thread, first, asker)
    follow_ups = [r for r in mention.replies if r.purpose == "follow_up"]
    assert len(follow_ups) == 1
    follow_up = follow_ups[0]
    assert (follow_up.kind, follow_up.state) == ("follow_up", "draft")
    assert follow_up.text.startswith("@tom_t ") and tweet_length(follow_up.text) <= 280
    assert link_target(follow_up) == f"/t/{thread.id}/{thread.slug}#answer-{first.id}"

    accept_answer(thread, first, asker)
    accept_answer(thread, second, asker)
    unaccept_answer(thread, asker)
    accept_answer(thread, first, asker)
    db.session.refresh(mention)
    assert [r.purpose for r in mention.replies].count("follow_up") == 1


def test_a_thread_without_a_mention_drafts_nothing(solved, make_user, make_thread, make_answer):
    asker = make_user()
    thread = make_thread(title="Voicemail greeting will not save on the home phone", author=asker)
    accept_answer(thread, make_answer(thread), asker)
    assert count(Reply) == 0


# ---------------------------------------------------------------------------- odd input


ODD_MENTIONS = {
    "only emoji": f"@{ACCOUNT} 😀😀😀🔥🔥",
    "only mentions": f"@{ACCOUNT} @maria @tom_t",
    "only a link": f"@{ACCOUNT} https://example.com/some/page?x=1",
    "280 CJK": f"@{ACCOUNT} " + ("路由器不工作了怎么办" * 28)[:280],
    "280 CJK question": f"@{ACCOUNT} " + ("路由器不工作了怎么办" * 28)[:279] + "？",
    "mixed scripts": f"@{ACCOUNT} мой Hub 3 light is amber, 什么都连不上, ¿ayuda? مساعدة",
    "zero-width": f"@{ACCOUNT} \u200bhub\u200b 3\u200d amber\u2060 light\ufeff help?",
    "empty after cleaning": f"@{ACCOUNT} \u200b\u200c\u200d\ufeff  #  ...  ",
    "control characters": f"@{ACCOUNT} \x00\x07hub amber\x1b[31m help",
    "right-to-left override": f"@{ACCOUNT} \u202eplehs pleh\u202c hub amber?",
    "combining marks": f"@{ACCOUNT} h\u0301\u0302\u0303\u0304\u0305\u0306ub broken",
    "html entities": f"@{ACCOUNT} &lt;script&gt;alert(1)&lt;/script&gt; &amp; hub down",
}


@pytest.mark.parametrize("text", ODD_MENTIONS.values(), ids=ODD_MENTIONS.keys())
def test_odd_mentions_are_decided_without_crashing(solved, make_mention, text: str):
    mention = decide(make_mention(text, author="odd_one"))
    db.session.expire_all()
    stored = db.session.get(Mention, mention.id)
    assert stored.decision in service.rules.KINDS and stored.reason
    assert stored.decided_at is not None
    for reply in stored.replies:
        assert reply.text.startswith("@odd_one ") and tweet_length(reply.text) <= 280
        assert not {"\u200b", "\x00", "\u202e"} & set(reply.text)


@pytest.mark.parametrize(
    "text, decision",
    [
        (ODD_MENTIONS["only emoji"], "no_reply"),
        (ODD_MENTIONS["only mentions"], "no_reply"),
        (ODD_MENTIONS["only a link"], "no_reply"),
        (ODD_MENTIONS["empty after cleaning"], "no_reply"),
        (ODD_MENTIONS["zero-width"], "help"),
    ],
)
def test_odd_mentions_decisions(solved, make_mention, text: str, decision: str):
    assert decide(make_mention(text)).decision == decision


def test_decide_pending_decides_every_new_mention(solved, make_mention):
    for text in ODD_MENTIONS.values():
        make_mention(text)
    make_mention(HUB_MENTION)
    assert service.decide_pending(ACCOUNT_ID, ACCOUNT) == len(ODD_MENTIONS) + 1
    assert db.session.scalar(select(func.count()).where(Mention.decision == "new")) == 0
    assert service.decide_pending(ACCOUNT_ID, ACCOUNT) == 0
