"""Tests for the wording and length of the concierge's replies."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from kb.concierge.compose import (
    KINDS,
    PHRASINGS,
    compose_reply,
    dm_link,
    sanitise_topic,
    tweet_length,
)

URL = "https://kb.skylark.com/s/Ab3"
URLS = [
    URL,
    "https://kb.skylark.co.uk/t/123-why-is-my-wifi-slow?src=x",
    dm_link("1234567890"),
    # not a link to twitter-text (".example" is no real domain), so it counts in full
    "https://kb.skylark.example/s/Ab3",
]
LONG = (
    "Why does my Skylark Hub 3 keep dropping the wifi connection every single evening around "
    "eight o'clock when everyone is streaming, and is there a setting that fixes it for good "
    "or do I need a new router, a booster or a mesh system?"
)


def body(reply: str) -> str:
    return reply.split(" ", 1)[1]


def test_dm_link() -> None:
    assert dm_link("998877") == "https://twitter.com/messages/compose?recipient_id=998877"
    with pytest.raises(ValueError):
        dm_link(" ")


def test_tweet_length_counts_like_x() -> None:
    assert tweet_length("hello") == 5
    assert tweet_length(URL) == 23
    assert tweet_length("\u65e5\u672c\u8a9e") == 6


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_short_reply_reads_well(kind: str) -> None:
    reply = compose_reply(handle="jo", kind=kind, topic="Router keeps dropping", url=URL, seed=0)
    assert reply.startswith("@jo ")
    assert reply.endswith(" " + URL)
    if kind != "private":
        assert "Router keeps dropping" in reply


def test_private_replies_never_echo_the_topic() -> None:
    for seed in range(10):
        reply = compose_reply(
            handle="jo", kind="private", topic="acct 88234571", url=dm_link("1000"), seed=seed
        )
        assert "88234571" not in reply
        assert "DM" in reply or "message us" in reply


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_has_six_phrasings(kind: str) -> None:
    replies = {
        compose_reply(handle="jo", kind=kind, topic="Wifi drops", url=URL, seed=seed)
        for seed in range(50)
    }
    assert len(PHRASINGS[kind]) >= 6
    assert len(replies) >= 6


def test_long_topic_is_cut_at_a_word_with_an_ellipsis() -> None:
    reply = compose_reply(handle="abcdefghijklmno", kind="answer", topic=LONG, url=URL, seed=1)
    assert tweet_length(reply) <= 280
    quoted = re.search("\u201c(.*)\u2026\u201d", reply)
    assert quoted
    assert (LONG + " ").startswith(quoted.group(1) + " ") or LONG[len(quoted.group(1))] in " ,"


def test_long_cjk_topic_is_cut_by_weighted_length() -> None:
    topic = "\u79c1\u306e\u30eb\u30fc\u30bf\u30fc\u304c\u52d5\u304b\u306a\u3044" * 30
    reply = compose_reply(handle="abc", kind="follow_up", topic=topic, url=URL, seed=2)
    assert 270 <= tweet_length(reply) <= 280
    assert "\u2026" in reply


def test_topic_that_cannot_fit_falls_back_to_a_sentence_without_it() -> None:
    url = "https://kb.skylark.example/s/" + "x" * 220  # counted in full: no room for a topic
    reply = compose_reply(handle="jo", kind="answer", topic=LONG, url=url, seed=0)
    assert tweet_length(reply) <= 280
    assert "\u201c" not in reply


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("  Router\u200b keeps\n\tdropping!!  ", "Router keeps dropping"),
        ("@evil mentions @someone here", "mentions here"),
        ("\uff20evil fullwidth at", "fullwidth at"),
        ("see https://evil.example/x and evil.com now", "see and now"),
        ("mail jo@example.com now", "mail now"),
        ("...Why is wifi slow?", "Why is wifi slow"),
        ("\u202eevil\u202c text", "evil text"),
        (
            "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
            "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
        ),
    ],
)
def test_sanitise_topic(topic: str, expected: str) -> None:
    assert sanitise_topic(topic) == expected


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        compose_reply(handle="jo", kind="shout", topic="x", url=URL, seed=0)
    with pytest.raises(ValueError):
        compose_reply(handle="not a handle", kind="answer", topic="x", url=URL, seed=0)
    with pytest.raises(ValueError):
        compose_reply(handle="jo", kind="answer", topic="x", url="", seed=0)


def test_previous_reply_is_never_repeated() -> None:
    first = compose_reply(handle="amy", kind="answer", topic="Wifi drops", url=URL, seed=3)
    second = compose_reply(
        handle="amy", kind="answer", topic="Wifi drops", url=URL, seed=3, previous=first
    )
    assert second != first


HANDLES = st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True)
PIECES = st.sampled_from(
    [
        "wifi",
        "router",
        "keeps",
        "dropping",
        "Supercalifragilisticexpialidocious",
        "\U0001f621",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "\U0001f1ec\U0001f1e7",
        "\U0001f44d\U0001f3fd",
        "1\ufe0f\u20e3",
        "\u79c1\u306e\u30eb\u30fc\u30bf\u30fc",
        "\u05e9\u05dc\u05d5\u05dd",
        "\u0627\u0644\u0625\u0646\u062a\u0631\u0646\u062a",
        "\u200b",
        "\u202e",
        "\u200d",
        "@evil",
        "\uff20evil",
        "jo@example.com",
        "https://evil.com/x",
        "evil.com",
        "kb.skylark.com/s/Ab3",
        URL,
        "\n",
        "?",
        "!",
        "\u2026",
        "#NoWifi",
    ]
)
TOPICS = st.one_of(
    st.text(max_size=400),
    st.lists(PIECES, max_size=80).map(" ".join),
    st.lists(PIECES, max_size=80).map("".join),
)
SETTINGS = settings(max_examples=200, deadline=None, database=None)


@SETTINGS
@given(
    handle=HANDLES,
    kind=st.sampled_from(sorted(KINDS)),
    topic=TOPICS,
    url=st.sampled_from(URLS),
    seed=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_replies_always_fit_and_stay_safe(
    handle: str, kind: str, topic: str, url: str, seed: int
) -> None:
    reply = compose_reply(handle=handle, kind=kind, topic=topic, url=url, seed=seed)
    assert reply.startswith(f"@{handle} ")
    assert reply.count(url) == 1
    assert reply.endswith(" " + url)
    assert tweet_length(reply) <= 280
    assert parse_tweet(reply).valid
    rest = reply[len(handle) + 2 :]
    assert "@" not in rest.replace(url, "")
    assert "\uff20" not in rest


@SETTINGS
@given(
    handles=st.lists(HANDLES, min_size=2, max_size=2, unique=True),
    kind=st.sampled_from(sorted(KINDS)),
    topic=TOPICS,
    url=st.sampled_from(URLS),
    seeds=st.tuples(st.integers(0, 50), st.integers(0, 50)),
)
def test_consecutive_replies_differ(
    handles: list[str], kind: str, topic: str, url: str, seeds: tuple[int, int]
) -> None:
    first = compose_reply(handle=handles[0], kind=kind, topic=topic, url=url, seed=seeds[0])
    second = compose_reply(
        handle=handles[1], kind=kind, topic=topic, url=url, seed=seeds[1], previous=first
    )
    assert second != first
    assert body(second) != body(first)
    assert tweet_length(second) <= 280
