"""Tests for turning raw mentions into plain text and question titles."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.concierge.cleaning import (
    clean_tweet,
    collapse_elongations,
    load_slang,
    split_hashtag,
    title_from_tweet,
)

SLANG = load_slang()
HANDLE = "SkylarkHelps"


def clean(text: str) -> str:
    return clean_tweet(text, account_handle=HANDLE, slang=SLANG)


def test_slang_file_has_both_tables_and_enough_entries() -> None:
    assert len(SLANG) >= 40
    assert SLANG["pls"] == "please"
    assert SLANG["w/"] == "with"
    assert SLANG["hub3"] == "hub 3"
    assert SLANG["router"] == "router"
    assert all(key == key.casefold() for key in SLANG)


def test_load_slang_reads_a_given_file(tmp_path: Path) -> None:
    path = tmp_path / "slang.toml"
    path.write_text('[abbreviations]\nGR8 = "great"\n[brand]\nsb = "skylark box"\n')
    assert load_slang(path) == {"gr8": "great", "sb": "skylark box"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@SkylarkHelps my wifi is down", "my wifi is down"),
        ("@SkylarkHelps @bob @alice_2 same here", "same here"),
        ("hey SkylarkHelps router dead", "hey router dead"),
        ("look https://t.co/AbC123 and www.skylark.com/help now", "look and now"),
        ("see skylark.com/status", "see"),
        ("#SkylarkFail again", "skylark fail again"),
        ("#no_wifi since Monday", "no wifi since Monday"),
        ("#Hub3Down", "hub 3 down"),
        ("#4KStreaming #NoWIFI #WIFIDown", "4k streaming no wifi wifi down"),
        ("#WiFi", "wifi"),
        ("router 😡😡 dead 🔥👍🏽🇬🇧", "router dead"),
        ("it's sooo slow", "it's so slow"),
        ("pleeeease help!!!!", "please help!"),
        ("free good speed all", "free good speed all"),
        ("gooood speeeeed toooo offf", "good speed too off"),
        ("helllp what???", "help what?"),
        ("wait.......", "wait..."),
        ("pls fix my acct asap", "please fix my account as soon as possible"),
        ("Pls help u r great", "Please help you r great"),
        (
            "thx, ur wifi cant connect bc of rn",
            "thanks, your wifi can't connect because of right now",
        ),
        ("w/ the hub3 w/o the skylarkhub", "with the hub 3 without the skylark hub"),
        ("my bb and net are down b4 2day", "my broadband and internet are down before today"),
        ("wi-fi and wify and WiFi", "wifi and wifi and WiFi"),
        ("idk smth is wrong w/ my tv", "I don't know something is wrong with my TV"),
        ("U.K. customer", "U.K. customer"),
        ("wi\u200bfi dro\u200dpping\ufeff", "wifi dropping"),
        ("bad\u202e text\u2066 here", "bad text here"),
        ("tab\there\nnewline\r\nend", "tab here newline end"),
        ("\uff37\uff49\uff26\uff49 \uff44\uff4f\uff57\uff4e", "WiFi down"),
        ("can\u2019t log in", "can't log in"),
        ("&amp; &lt;3 &gt;", "& <3 >"),
        ("email jo@example.com please", "email jo@example.com please"),
        ("@SkylarkHelps: wifi down", "wifi down"),
        ("\U0001f621\U0001f621\U0001f621", ""),
        ("@SkylarkHelps", ""),
        ("https://t.co/xyz", ""),
        ("", ""),
    ],
)
def test_clean_tweet(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "\u05d4\u05d0\u05d9\u05e0\u05d8\u05e8\u05e0\u05d8 \u05dc\u05d0 \u05e2\u05d5\u05d1\u05d3?",
        "\u0627\u0644\u0625\u0646\u062a\u0631\u0646\u062a"
        " \u0644\u0627 \u064a\u0639\u0645\u0644\u061f",
        "\u79c1\u306e\u30eb\u30fc\u30bf\u30fc\u304c\u52d5\u304b\u306a\u3044",
        "\ud55c\uad6d\uc5b4 \uc778\ud130\ub137",
        "\u0928\u0947\u091f \u0928\u0939\u0940\u0902 \u091a\u0932 \u0930\u0939\u093e \u0939\u0948",
        "\u0418\u043d\u0442\u0435\u0440\u043d\u0435\u0442"
        " \u043d\u0435 \u0440\u0430\u0431\u043e\u0442\u0430\u0435\u0442",
    ],
)
def test_letters_of_any_script_are_kept(raw: str) -> None:
    assert clean("@SkylarkHelps " + raw) == raw


def test_rtl_text_keeps_its_order_and_loses_bidi_controls() -> None:
    hebrew = "\u05e9\u05dc\u05d5\u05dd"
    assert clean("\u202b" + hebrew + "\u202c @SkylarkHelps wifi") == hebrew + " wifi"


def test_repeated_cjk_characters_are_not_collapsed() -> None:
    assert clean("\u54c8\u54c8\u54c8") == "\u54c8\u54c8\u54c8"


def test_split_hashtag_directly() -> None:
    assert split_hashtag("SkylarkFail") == "skylark fail"
    assert split_hashtag("Stream4K", SLANG) == "stream4k"
    assert split_hashtag("BTSport") == "bt sport"


def test_collapse_elongations_keeps_numbers() -> None:
    assert collapse_elongations("1000000 mbps?!?!") == "1000000 mbps?!?!"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "@SkylarkHelps hi there, my wifi keeps dropping every evening. Any ideas why? Thanks",
            "My wifi keeps dropping every evening. Any ideas why?",
        ),
        ("@SkylarkHelps MY WIFI IS DOWN AGAIN", "My wifi is down again"),
        ("@SkylarkHelps i think skylark tv is broken, cheers x", "I think Skylark TV is broken"),
        ("@SkylarkHelps router", "Help needed: Router"),
        ("@SkylarkHelps \U0001f621", "Question for the Skylark community"),
        ("@SkylarkHelps pls help w/ my hub3 https://t.co/x", "Please help with my hub 3"),
    ],
)
def test_title_from_tweet(raw: str, expected: str) -> None:
    assert title_from_tweet(raw, account_handle=HANDLE, slang=SLANG) == expected


def test_long_title_picks_the_question_with_its_context() -> None:
    raw = "Long story. " * 20 + "My router keeps rebooting. Why does it do that?"
    title = title_from_tweet(raw, account_handle=HANDLE, slang=SLANG)
    assert title == "My router keeps rebooting. Why does it do that?"


def test_long_title_is_cut_at_a_word() -> None:
    title = title_from_tweet("word " * 60, account_handle=HANDLE)
    assert len(title) <= 150
    assert title.endswith("word\u2026")


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=300))
def test_cleaning_never_fails_and_titles_fit(raw: str) -> None:
    cleaned = clean("@SkylarkHelps " + raw + " https://t.co/abc")
    assert "https://" not in cleaned
    assert "@SkylarkHelps" not in cleaned
    assert cleaned == cleaned.strip()
    title = title_from_tweet(raw, account_handle=HANDLE, slang=SLANG)
    assert 10 <= len(title) <= 150
    assert "@SkylarkHelps" not in title
