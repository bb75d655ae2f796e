"""The X gateway driven through tweepy's real HTTP path against the stand-in subprocess."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from kb.concierge.x_api import (
    Account,
    XAuthError,
    XDuplicate,
    XError,
    XForbidden,
    XGateway,
    XRateLimited,
    XTransient,
    parse_mention,
)

if TYPE_CHECKING:
    from tests.concierge.conftest import Standin

ACCOUNT_ID = "1500000000000000001"
ACCOUNT = "SkylarkHelps"


def test_get_me(gateway: XGateway) -> None:
    assert gateway.get_me() == Account(id=ACCOUNT_ID, username=ACCOUNT)
    assert gateway.account_id == ACCOUNT_ID


def test_mentions_page_through_without_loss_or_duplicates(
    gateway: XGateway, standin: Standin
) -> None:
    specs = [{"author": f"cust{i % 7}", "text": f"@{ACCOUNT} question {i}"} for i in range(250)]
    specs += [{"author": "bystander", "text": f"no mention here {i}"} for i in range(5)]
    posted = standin.tweets(specs)
    expected = {t["id"] for t in posted if "@" in t["text"]}

    seen: list[str] = []
    token, pages, newest = None, 0, None
    while True:
        page = gateway.get_mentions(ACCOUNT_ID, pagination_token=token, max_results=100)
        pages += 1
        newest = newest or page.newest_id
        seen += [m.id for m in page.mentions]
        token = page.next_token
        if token is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == expected
    assert seen == sorted(seen, key=int, reverse=True)
    assert newest == max(expected, key=int)

    empty = gateway.get_mentions(ACCOUNT_ID, since_id=newest)
    assert empty.mentions == [] and empty.newest_id is None and empty.next_token is None

    fresh = standin.tweets(
        [{"author": "late", "text": f"@{ACCOUNT.lower()} hi {i}"} for i in range(3)]
    )
    page = gateway.get_mentions(ACCOUNT_ID, since_id=newest)
    assert [m.id for m in page.mentions] == [t["id"] for t in reversed(fresh)]
    assert page.newest_id == fresh[-1]["id"]


def test_mention_fields(gateway: XGateway, standin: Standin) -> None:
    first = standin.tweet(
        "maria", f"@{ACCOUNT} my order is late", created_at="2026-01-02T03:04:05Z"
    )
    reply_id = gateway.create_reply("@maria sorry! Tracking: https://example.com/t", first["id"])
    follow = standin.tweet("maria", "still nothing", in_reply_to_tweet_id=reply_id, lang="es")

    newest, oldest = gateway.get_mentions(ACCOUNT_ID, max_results=5).mentions
    assert newest.id == follow["id"] and newest.in_reply_to_id == reply_id
    assert newest.conversation_id == first["id"] and newest.lang == "es"
    assert oldest.author_username == "maria" and oldest.author_id == first["author_id"]
    assert oldest.created_at == datetime.fromisoformat("2026-01-02T03:04:05+00:00")
    assert oldest.in_reply_to_id is None and oldest.is_repost is False
    assert oldest.raw["entities"]["mentions"][0]["username"] == ACCOUNT


def test_create_reply(gateway: XGateway, standin: Standin) -> None:
    mention = standin.tweet("sam", f"@{ACCOUNT} how do I reset my password?")
    reply_id = gateway.create_reply("@sam see our guide", mention["id"])
    assert int(reply_id) > int(mention["id"])
    [posted] = standin.posted()
    assert posted["id"] == reply_id and posted["in_reply_to_tweet_id"] == mention["id"]
    assert posted["text"] == "@sam see our guide"


def test_duplicate_content(gateway: XGateway, standin: Standin) -> None:
    first = standin.tweet("a1", f"@{ACCOUNT} help")
    second = standin.tweet("a2", f"@{ACCOUNT} help too")
    gateway.create_reply("Same words", first["id"])
    with pytest.raises(XDuplicate):
        gateway.create_reply("Same words", second["id"])


def test_reply_to_a_post_that_does_not_mention_the_account(
    gateway: XGateway, standin: Standin
) -> None:
    other = standin.tweet("carol", "talking about something else")
    with pytest.raises(XForbidden) as info:
        gateway.create_reply("unsolicited", other["id"])
    assert not isinstance(info.value, XDuplicate)
    with pytest.raises(XForbidden):
        gateway.create_reply("to nowhere", "1234567890123")
    assert standin.posted() == []


def test_wrong_secret(make_gateway: Callable[..., XGateway]) -> None:
    with pytest.raises(XAuthError):
        make_gateway(api_secret="not-the-secret").get_me()
    with pytest.raises(XAuthError):
        make_gateway(access_secret="not-the-secret").get_mentions(ACCOUNT_ID)


def test_rate_limited_with_reset(gateway: XGateway, standin: Standin) -> None:
    standin.limits(me=1)
    gateway.get_me()
    with pytest.raises(XRateLimited) as info:
        gateway.get_me()
    assert info.value.reset_at is not None
    assert time.time() + 890 < info.value.reset_at <= time.time() + 901


def test_rate_limited_without_reset(gateway: XGateway, standin: Standin) -> None:
    standin.limits(mentions=0)
    standin.faults("none", rate_limit_no_reset=True)
    with pytest.raises(XRateLimited) as info:
        gateway.get_mentions(ACCOUNT_ID)
    assert info.value.reset_at is None


@pytest.mark.parametrize("mode", ["error500", "error503", "malformed", "drop"])
def test_transient_failures(gateway: XGateway, standin: Standin, mode: str) -> None:
    standin.faults(mode, count=1)
    with pytest.raises(XTransient):
        gateway.get_me()
    assert gateway.get_me().username == ACCOUNT


def test_slow_answer_times_out(make_gateway: Callable[..., XGateway], standin: Standin) -> None:
    gateway = make_gateway(timeout=(1.0, 0.3))
    standin.faults("slow", count=1, delay=2.0)
    started = time.monotonic()
    with pytest.raises(XTransient):
        gateway.get_me()
    assert time.monotonic() - started < 1.5


def test_refused_connection_is_transient() -> None:
    with XGateway("k", "s", "1-t", "a", base_url="http://127.0.0.1:9", timeout=(0.5, 0.5)) as gw:
        with pytest.raises(XTransient):
            gw.get_me()


def test_drop_after_post_then_reconcile(gateway: XGateway, standin: Standin) -> None:
    answered = standin.tweet("dana", f"@{ACCOUNT} first")
    gateway.create_reply("@dana answered", answered["id"])
    mention = standin.tweet("dana", f"@{ACCOUNT} where is my refund?")
    unanswered = standin.tweet("erin", f"@{ACCOUNT} hello?")
    standin.faults("drop_after_post", count=1)
    gateway.get_me()  # the fault waits for a POST
    with pytest.raises(XTransient):
        gateway.create_reply("@dana refunds take 5 days", mention["id"])
    created = [p for p in standin.posted() if p["in_reply_to_tweet_id"] == mention["id"]]
    assert len(created) == 1
    assert gateway.find_reply_to(ACCOUNT_ID, mention["id"]) == created[0]["id"]
    assert gateway.find_reply_to(ACCOUNT_ID, unanswered["id"]) is None


def test_find_reply_to_pages_through_recent_posts(gateway: XGateway, standin: Standin) -> None:
    mentions = standin.tweets([{"author": "fan", "text": f"@{ACCOUNT} q{i}"} for i in range(130)])
    standin.limits(create_tweet=200)
    for i, mention in enumerate(mentions):
        if i != 5:
            gateway.create_reply(f"answer {i}", mention["id"])
    target = mentions[0]["id"]
    reply = next(p for p in standin.posted() if p["in_reply_to_tweet_id"] == target)
    assert gateway.find_reply_to(ACCOUNT_ID, target) == reply["id"]
    assert gateway.find_reply_to(ACCOUNT_ID, mentions[5]["id"]) is None


@pytest.mark.parametrize(("asked", "served"), [(1, 5), (0, 5), (500, 100), (7, 7)])
def test_out_of_range_max_results_is_clamped(
    gateway: XGateway, standin: Standin, asked: int, served: int
) -> None:
    standin.tweets([{"author": "bulk", "text": f"@{ACCOUNT} {i}"} for i in range(120)])
    assert len(gateway.get_mentions(ACCOUNT_ID, max_results=asked).mentions) == served


def test_unknown_user_is_an_error_not_a_crash(gateway: XGateway) -> None:
    with pytest.raises(XError):
        gateway.get_mentions("42")


@pytest.mark.parametrize(
    "item",
    [
        None,
        "text",
        {"text": "no id", "author_id": "1"},
        {"id": "12", "author_id": "1"},
        {"id": "12", "text": "no author"},
        {"id": "abc", "text": "bad id", "author_id": "1"},
    ],
)
def test_malformed_mentions_are_skipped(item: object, caplog: pytest.LogCaptureFixture) -> None:
    assert parse_mention(item, {}) is None
    assert "skipping" in caplog.text


def test_loose_mention_fields_are_tolerated() -> None:
    item = {
        "id": 12,
        "text": "hi",
        "author_id": "7",
        "created_at": "yesterday",
        "referenced_tweets": "oops",
        "conversation_id": None,
        "lang": 5,
    }
    mention = parse_mention(item, {"7": "gus"})
    assert mention is not None
    assert (mention.id, mention.author_username, mention.created_at) == ("12", "gus", None)
    assert (mention.in_reply_to_id, mention.lang, mention.conversation_id) == (None, None, None)
