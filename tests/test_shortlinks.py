"""Short links: content codes, reply codes, click counting, and codes that lead nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kb.concierge.models import Click, Mention, ShortLink
from kb.db import db
from kb.shortlinks import (
    MAX_DB_ID,
    content_code,
    create_reply_link,
    from_base62,
    is_preview_fetcher,
    resolve,
    to_base62,
)
from tests import test_postgres

ARTICLE = """---
title: Reset your Hub 3
slug: reset-hub-3
tags: router, hub-3
summary: How to restart or factory-reset the Hub 3 when the light is amber.
---

Hold the power button for ten seconds.
"""
# A throwaway PostgreSQL server (skipped where PostgreSQL is not installed).
pg_url, pg_app = test_postgres.pg_url, test_postgres.pg_app
PREVIEW_AGENTS = [
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
]
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile Safari"


def clicks() -> list[Click]:
    return list(db.session.scalars(select(Click).order_by(Click.id)))


def make_mention(tweet_id: str = "1900000000000000001", username: str = "dana") -> Mention:
    mention = Mention(
        tweet_id=tweet_id, author_id="42", author_username=username,
        text="@SkylarkHelps my hub light is amber", decision="help",
    )  # fmt: skip
    db.session.add(mention)
    db.session.commit()
    return mention


@pytest.fixture
def article(app):
    from kb.articles import load_articles

    content = Path(app.config["CONTENT_DIR"])
    content.mkdir(parents=True, exist_ok=True)
    (content / "reset-hub-3.md").write_text(ARTICLE, encoding="utf-8")
    load_articles(content)
    from kb.models import Article

    return db.session.scalar(select(Article).where(Article.slug == "reset-hub-3"))


# ----- content codes ------------------------------------------------------------------------


def test_thread_answer_and_article_codes_redirect_to_canonical_urls(
    client, make_thread, make_answer, article
):
    thread = make_thread(title="Hub 3 light is amber and nothing connects")
    answer = make_answer(thread)
    expected = {
        content_code(
            "thread", thread.id
        ): f"/t/{thread.id}/hub-3-light-is-amber-and-nothing-connects",
        content_code("answer", answer.id): (
            f"/t/{thread.id}/hub-3-light-is-amber-and-nothing-connects#answer-{answer.id}"
        ),
        content_code("article", article.id): "/a/reset-hub-3",
    }
    for code, path in expected.items():
        response = client.get(f"/s/{code}")
        assert response.status_code == 302, code
        assert response.headers["Location"] == path
        # The target really is the page.
        assert client.get(path.partition("#")[0]).status_code == 200


def test_codes_use_kind_letter_and_base62(app, make_thread):
    thread = make_thread()
    assert content_code("thread", thread.id) == "t" + to_base62(thread.id)
    assert content_code("answer", 61) == "az"
    assert content_code("article", 62) == "k10"


def test_hidden_thread_code_is_a_404(client, make_thread, make_answer):
    thread = make_thread()
    answer = make_answer(thread)
    thread.hidden = True
    db.session.commit()
    for code in (content_code("thread", thread.id), content_code("answer", answer.id)):
        response = client.get(f"/s/{code}")
        assert response.status_code == 404


# ----- reply codes and clicks ---------------------------------------------------------------


def test_reply_code_redirects_and_records_a_click_for_its_mention(client, make_thread):
    thread = make_thread()
    mention = make_mention()
    path = f"/t/{thread.id}/{thread.slug}"
    code = create_reply_link(path, mention.id)
    db.session.commit()
    assert code.startswith("c") and len(code) == 8
    assert db.session.scalar(select(ShortLink).where(ShortLink.code == code)).target_path == path

    response = client.get(
        f"/s/{code}",
        headers={"User-Agent": BROWSER, "Referer": "https://t.co/AbCdEf123?amp=1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == path
    [click] = clicks()
    assert (click.code, click.mention_id, click.referrer_host) == (code, mention.id, "t.co")


def test_click_without_referrer_has_empty_host(client):
    mention = make_mention()
    code = create_reply_link("/search?q=amber", mention.id)
    db.session.commit()
    assert client.get(f"/s/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    assert [(c.mention_id, c.referrer_host) for c in clicks()] == [(mention.id, "")]


def test_garbage_referrer_is_not_a_crash(client):
    mention = make_mention()
    code = create_reply_link("/", mention.id)
    db.session.commit()
    response = client.get(f"/s/{code}", headers={"Referer": "http://[::1"})
    assert response.status_code == 302
    assert [c.referrer_host for c in clicks()] == [""]


def test_reply_codes_are_distinct(app):
    mention = make_mention()
    codes = {create_reply_link("/", mention.id) for _ in range(50)}
    db.session.commit()
    assert len(codes) == 50


@pytest.mark.parametrize("agent", PREVIEW_AGENTS)
def test_link_preview_fetchers_are_not_counted(client, agent):
    mention = make_mention()
    code = create_reply_link("/", mention.id)
    db.session.commit()
    response = client.get(f"/s/{code}", headers={"User-Agent": agent, "Referer": "https://x.com/"})
    assert response.status_code == 302  # the fetcher still gets the page for the card
    assert is_preview_fetcher(agent)
    assert clicks() == []


def test_people_are_counted_after_a_fetcher(client):
    mention = make_mention()
    code = create_reply_link("/", mention.id)
    db.session.commit()
    client.get(f"/s/{code}", headers={"User-Agent": "Twitterbot/1.0"})
    client.get(f"/s/{code}", headers={"User-Agent": BROWSER})
    client.get(f"/s/{code}", headers={"User-Agent": BROWSER, "Referer": "https://x.com/i/web"})
    assert [c.referrer_host for c in clicks()] == ["", "x.com"]


# ----- codes that lead nowhere --------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "zz",
        "c0000000",
        "t" + "9" * 30,
        "t" + "9" * 15,
        "tzzzzzzzzzz",  # 62**10 - 1: far beyond any id
        "a0",
        "k0",
        "t",
        "ünïcødé",
        "%E2%98%83%F0%9F%98%80",
        "x" * 200,
        "../../etc",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "t1%0d%0aSet-Cookie:x=1",
    ],
)
def test_unknown_codes_are_a_404_with_a_search_box(client, code):
    response = client.get(f"/s/{code}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert 'type="search"' in html and 'name="q"' in html
    assert "Set-Cookie" not in response.headers
    assert clicks() == []


def test_ids_beyond_an_integer_column_are_a_404_on_postgres(pg_app):
    # SQLite stores any 64-bit id; PostgreSQL's int4 columns raise on bigger ones.
    client = pg_app.test_client()
    for code in ("tzzzzzzzzzz", "a" + to_base62(2**31), "k" + "z" * 10, "t" + to_base62(MAX_DB_ID)):
        assert client.get(f"/s/{code}").status_code == 404, code


def test_missing_ids_are_a_404(client, make_thread):
    thread = make_thread()
    for code in ("t" + to_base62(thread.id + 1), "a" + to_base62(99), "k" + to_base62(5)):
        assert client.get(f"/s/{code}").status_code == 404


def test_a_stored_link_pointing_outside_is_never_followed(client):
    # Written directly, bypassing create_reply_link, as a corrupted or hand-edited row would be.
    mention = make_mention()
    db.session.add(ShortLink(code="cEvil001", target_path="//evil.com/x", mention_id=mention.id))
    db.session.commit()
    response = client.get("/s/cEvil001")
    assert response.status_code == 404
    assert resolve("cEvil001") is None


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.com",
        "https://evil.com/t/1/x",
        "//evil.com",
        "//evil.com/t/1",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "/t/1\r\nLocation: https://evil.com",
        "t/1/relative",
        "",
    ],
)
def test_create_reply_link_refuses_external_targets(app, target):
    with pytest.raises(ValueError):
        create_reply_link(target, None)
    db.session.commit()
    assert db.session.scalar(select(func.count(ShortLink.id))) == 0


# ----- base62 -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=62**10 - 1))
def test_base62_round_trip(number):
    text = to_base62(number)
    assert from_base62(text) == number
    assert all(c.isascii() and c.isalnum() for c in text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_from_base62_never_raises(text):
    value = from_base62(text)
    assert value is None or (value >= 0 and to_base62(value).lstrip("0") == text.lstrip("0"))


def test_base62_edges():
    assert to_base62(0) == "0"
    assert to_base62(61) == "z"
    assert to_base62(62) == "10"
    assert from_base62("") is None
    assert from_base62("z" * 11) is None
    with pytest.raises(ValueError):
        to_base62(-1)
