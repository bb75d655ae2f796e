"""Rule-table tests for deciding what the concierge does with a mention."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.concierge.cleaning import clean_tweet, load_slang
from kb.concierge.triage import KINDS, Decision, MentionFacts, redact_private, triage

SLANG = load_slang()
ACCOUNT = MentionFacts(
    text="",
    author_id="42",
    author_username="jo_customer",
    account_id="1000",
    account_username="SkylarkHelps",
    is_repost=False,
    conversation_id="555",
    in_reply_to_id=None,
)


def decide(
    text: str,
    *,
    suppressed: frozenset[str] = frozenset(),
    replied: frozenset[str] = frozenset(),
    **changes: object,
) -> Decision:
    facts = replace(ACCOUNT, text=text, **changes)
    cleaned = clean_tweet(text, account_handle="SkylarkHelps", slang=SLANG)
    return triage(facts, suppressed=suppressed, replied_conversations=replied, cleaned_text=cleaned)


JAPANESE = "\u79c1\u306e\u30eb\u30fc\u30bf\u30fc\u304c\u52d5\u304b\u306a\u3044"
ARABIC = "\u0627\u0644\u0625\u0646\u062a\u0631\u0646\u062a \u0644\u0627 \u064a\u0639\u0645\u0644"
HEBREW = "\u05d4\u05d0\u05d9\u05e0\u05d8\u05e8\u05e0\u05d8 \u05dc\u05d0 \u05e2\u05d5\u05d1\u05d3"
CJK_280 = "\u79c1\u306e\u30eb\u30fc\u30bf\u30fc" * 46 + "\u52d5\u304b\u306a\u3044"

CASES = [
    # opt-out, in many spellings
    ("@SkylarkHelps STOP", "opt_out"),
    ("@SkylarkHelps Stop.", "opt_out"),
    ("@SkylarkHelps stop", "opt_out"),
    ("@SkylarkHelps STOP STOP STOP!!!", "opt_out"),
    ("@SkylarkHelps pls stop replying", "opt_out"),
    ("@SkylarkHelps Stop replying to me, I've sorted it myself", "opt_out"),
    ("@SkylarkHelps unsubscribe me", "opt_out"),
    ("@SkylarkHelps UNSUBSCRIBE", "opt_out"),
    ("@SkylarkHelps don't reply", "opt_out"),
    ("@SkylarkHelps dont reply", "opt_out"),
    ("@SkylarkHelps do not reply", "opt_out"),
    ("@SkylarkHelps Don\u2019t reply to me bot", "opt_out"),
    ("@SkylarkHelps leave me alone", "opt_out"),
    ("@SkylarkHelps no more replies please", "opt_out"),
    ("@SkylarkHelps opt out", "opt_out"),
    ("@SkylarkHelps Opt-Out", "opt_out"),
    ("@SkylarkHelps stop the bot replies", "opt_out"),
    ("@SkylarkHelps stop tagging me", "opt_out"),
    # opt-in
    ("@SkylarkHelps START", "opt_in"),
    ("@SkylarkHelps start", "opt_in"),
    ("@SkylarkHelps unstop", "opt_in"),
    ("@SkylarkHelps opt in", "opt_in"),
    ("@SkylarkHelps you can reply again", "opt_in"),
    ("@SkylarkHelps ok you can reply to me again", "opt_in"),
    ("@SkylarkHelps opt me back in please", "opt_in"),
    # private data
    ("@SkylarkHelps acct 88234571 still has no service", "private"),
    ("@SkylarkHelps where is my order #SK-44821", "private"),
    ("@SkylarkHelps my email is jo@example.com can you check", "private"),
    ("@SkylarkHelps call me on 07700 900123", "private"),
    ("@SkylarkHelps ring me +44 20 7946 0958", "private"),
    ("@SkylarkHelps engineer never came to 12 Acacia Avenue, Leeds LS1 4AB", "private"),
    ("@SkylarkHelps you charged card 4111 1111 1111 1111 twice", "private"),
    ("@SkylarkHelps refund to 5500-0000-0000-0004 please", "private"),
    ("@SkylarkHelps my sort code 12-34-56 is wrong on the bill", "private"),
    ("@SkylarkHelps how do I update my billing address?", "private"),
    ("@SkylarkHelps what's my account number?", "private"),
    ("@SkylarkHelps my password is hunter2 and it doesn't work", "private"),
    # thanks, praise, chatter, spam: no automated reply
    ("@SkylarkHelps thanks so much!", "no_reply"),
    ("@SkylarkHelps thank you for the help earlier \U0001f64f", "no_reply"),
    ("@SkylarkHelps all sorted now, cheers", "no_reply"),
    ("@SkylarkHelps that worked, ty", "no_reply"),
    ("@SkylarkHelps love my new hub 3, best broadband ever", "no_reply"),
    ("@SkylarkHelps Skylark is the best, never down", "no_reply"),
    ("@SkylarkHelps lol", "no_reply"),
    ("@SkylarkHelps good morning", "no_reply"),
    ("@SkylarkHelps who's watching the match tonight?", "no_reply"),
    ("@SkylarkHelps what a goal!!!", "no_reply"),
    ("@SkylarkHelps check out my profile for free followers", "no_reply"),
    ("@SkylarkHelps earn $500 a day with crypto, DM me for details", "no_reply"),
    ("@SkylarkHelps WhatsApp me +44 7700 900456 for bitcoin tips", "no_reply"),
    ("@SkylarkHelps just got home", "no_reply"),
    # help: questions and problems
    ("@SkylarkHelps my wifi is down", "help"),
    ("@SkylarkHelps wifi sooo slow rn #SkylarkFail", "help"),
    ("@SkylarkHelps how do I reset my router", "help"),
    ("@SkylarkHelps why is my hub3 flashing orange?", "help"),
    ("@SkylarkHelps Stream keeps buffering on the 4K box", "help"),
    ("@SkylarkHelps no internet since 6am", "help"),
    ("@SkylarkHelps can't log in to the app", "help"),
    ("@SkylarkHelps thanks but it's still dropping", "help"),
    ("@SkylarkHelps Thanks! Now how do I set up parental controls", "help"),
    ("@SkylarkHelps my stream keeps stopping", "help"),
    ("@SkylarkHelps how do I opt out of marketing emails?", "help"),
    ("@SkylarkHelps how do I unsubscribe from the newsletter?", "help"),
    ("@SkylarkHelps why don't you reply to my emails?", "help"),
    ("@SkylarkHelps I got charged twice this month", "help"),
    ("@SkylarkHelps moving house next week, what do I do with the router", "help"),
    ("@SkylarkHelps error code E42 on the TV box", "help"),
    ("@SkylarkHelps hub\u200b3 keeps\u200b dropping", "help"),
    ("@SkylarkHelps " + JAPANESE + "\uff1f", "help"),
    ("@SkylarkHelps " + JAPANESE, "no_reply"),
    ("@SkylarkHelps " + ARABIC + "\u061f", "help"),
    ("@SkylarkHelps " + HEBREW + "?", "help"),
    ("@SkylarkHelps my wifi \u4e0d\u884c is down", "help"),
    ("@SkylarkHelps \u00bfpor qu\u00e9 no funciona el wifi?", "help"),
    # nothing left to read
    ("@SkylarkHelps \U0001f621\U0001f621\U0001f621", "no_reply"),
    ("@SkylarkHelps @bob @alice", "no_reply"),
    ("@SkylarkHelps https://t.co/abc123", "no_reply"),
    ("@SkylarkHelps \u200b\u200b\u200d", "no_reply"),
    ("", "no_reply"),
    ("@SkylarkHelps " + CJK_280, "no_reply"),
    ("@SkylarkHelps " + CJK_280[:-1] + "\uff1f", "help"),
]


@pytest.mark.parametrize(("text", "kind"), CASES)
def test_rule_table(text: str, kind: str) -> None:
    decision = decide(text)
    assert decision.kind == kind, decision.reason
    assert decision.reason


def test_the_rule_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert {kind for _, kind in CASES} == {"opt_out", "opt_in", "private", "no_reply", "help"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("@SkylarkHelps acct 88234571 is broken", "contains an account number"),
        ("@SkylarkHelps my email is jo@example.com", "contains an email address"),
        ("@SkylarkHelps call me on 07700 900123", "contains a phone number"),
        ("@SkylarkHelps card 4111 1111 1111 1111", "contains a card number"),
        ("@SkylarkHelps 12 Acacia Avenue please", "contains a postal address"),
        ("@SkylarkHelps pls stop replying", "opt-out request: 'stop replying'"),
        ("@SkylarkHelps STOP", "opt-out request: 'stop'"),
        ("@SkylarkHelps you can reply again", "opt-in request: 'you can reply again'"),
        ("@SkylarkHelps thank you!", "thanks: 'thank you'"),
        ("@SkylarkHelps follow me for crypto", "spam: 'follow me'"),
        ("@SkylarkHelps just got home", "no question or problem found"),
    ],
)
def test_reasons_are_readable(text: str, reason: str) -> None:
    assert decide(text).reason == reason


def test_own_posts_are_ignored() -> None:
    decision = decide("@SkylarkHelps wifi down?", author_id="1000", author_username="SkylarkHelps")
    assert decision == Decision("ignore", "own post")
    assert decide("my wifi down?", author_username="skylarkhelps").kind == "ignore"


def test_reposts_are_ignored() -> None:
    assert decide("my wifi is down", is_repost=True) == Decision("ignore", "repost")
    assert decide("RT @someone: my wifi is down").kind == "ignore"


def test_automated_accounts_are_ignored() -> None:
    decision = decide("my wifi is down", is_from_automated_account=True)
    assert decision == Decision("ignore", "automated account")


def test_suppressed_handles_are_ignored_whatever_they_say() -> None:
    for text in ("my wifi is down", "acct 88234571", "thanks"):
        decision = decide(text, suppressed=frozenset({"@JO_Customer"}))
        assert decision.kind == "ignore"


def test_a_suppressed_user_can_opt_back_in_and_out() -> None:
    suppressed = frozenset({"jo_customer"})
    assert decide("@SkylarkHelps START", suppressed=suppressed).kind == "opt_in"
    assert decide("@SkylarkHelps stop", suppressed=suppressed).kind == "opt_out"


def test_already_replied_conversation() -> None:
    decision = decide("@SkylarkHelps still broken?", replied=frozenset({"555"}))
    assert decision == Decision("already_replied", "already replied in this conversation")


def test_opt_out_wins_inside_a_replied_conversation() -> None:
    assert decide("@SkylarkHelps stop replying", replied=frozenset({"555"})).kind == "opt_out"


def test_no_conversation_id_is_fine() -> None:
    assert decide("wifi down", conversation_id=None).kind == "help"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acct 88234571 is locked", "acct [redacted] is locked"),
        ("mail jo@example.com now", "mail [redacted] now"),
        ("call 07700 900123 or +44 20 7946 0958", "call [redacted] or [redacted]"),
        ("12 Acacia Avenue, Leeds LS1 4AB", "[redacted], Leeds [redacted]"),
        ("card 4111 1111 1111 1111", "card [redacted]"),
        ("sort code 12-34-56", "sort code [redacted]"),
        ("order #SK-44821 lost", "order [redacted] lost"),
        ("my password is hunter2", "my password is [redacted]"),
        ("no private data, 500 Mbps", "no private data, 500 Mbps"),
        (
            "link https://t.co/12345678901 @user123456789",
            "link https://t.co/12345678901 @user123456789",
        ),
        ("zero\u200bwidth 0770\u200b0 900123", "zerowidth [redacted]"),
    ],
)
def test_redact_private(text: str, expected: str) -> None:
    assert redact_private(text) == expected


PIECES = st.sampled_from(
    [
        "@SkylarkHelps",
        "@bob",
        "stop",
        "wifi",
        "down",
        "?",
        "\uff1f",
        "thanks",
        "\U0001f621",
        "\u200b",
        "\u202e",
        "https://t.co/x",
        "07700 900123",
        "\u79c1\u306e",
        "\u05e9\u05dc\u05d5\u05dd",
        "#NoWifi",
        "sooo",
        "\n",
    ]
)


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(st.text(max_size=280), st.lists(PIECES, max_size=30).map(" ".join)))
def test_every_mention_gets_a_decision(text: str) -> None:
    decision = decide(text)
    assert decision.kind in KINDS
    assert decision.reason
