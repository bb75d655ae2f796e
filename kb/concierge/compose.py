"""Word the concierge's replies: one friendly sentence and a link, within X's 280 limit."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from twitter_text import extract_urls_with_indices, parse_tweet

MAX_LENGTH = 280
ELLIPSIS = "\u2026"
MAX_TOPIC_INPUT = 2000  # titles are far shorter; this only bounds the work on odd input
MIN_TOPIC = 8  # a shortened topic below this many characters says nothing: drop it instead
MAX_DOTS = 8  # more dots than this in one word is never a real title word
DM_LINK = "https://twitter.com/messages/compose?recipient_id={account_id}"
HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,50})")

# {topic} is the title of a thread or article, or the customer's own question.
PHRASINGS: dict[str, tuple[str, ...]] = {
    "answer": (
        "This should sort it: \u201c{topic}\u201d",
        "Good news, the community has already cracked this one: \u201c{topic}\u201d",
        "Have a look at \u201c{topic}\u201d, it walks you through the fix",
        "Others had the same trouble and this helped them: \u201c{topic}\u201d",
        "Try the steps in \u201c{topic}\u201d, they usually do the trick",
        "There's a solved thread on exactly this: \u201c{topic}\u201d",
        "Here's what fixed it for others: \u201c{topic}\u201d",
    ),
    "ask_community": (
        "We couldn't find an answer to \u201c{topic}\u201d yet, ask the community here and "
        "we've filled it in for you",
        "Nobody has asked \u201c{topic}\u201d yet, pop it on the community board here",
        "No answer for \u201c{topic}\u201d yet, ask the community and someone who knows will "
        "jump in",
        "Good question! Post \u201c{topic}\u201d to the community here, it's ready to go",
        "That one's new to us, ask the community about \u201c{topic}\u201d here",
        "Our community is great with questions like \u201c{topic}\u201d, ask it here",
    ),
    # Never echo anything from the customer here: their post held private details.
    "private": (
        "Let's keep your details out of public view, send us a DM here and we'll take a look",
        "That one's best sorted privately, DM us here so your details stay safe",
        "Please don't share account details in public, message us privately here instead",
        "We'll need to look at your account, so DM us here and keep your details private",
        "Happy to help one to one, send us a DM here",
        "To keep your info safe, let's move this to DMs, tap here",
        "Best sorted in private, drop us a DM here and we'll pick it up",
    ),
    "follow_up": (
        "Someone in the community has answered your question \u201c{topic}\u201d, take a look",
        "Good news, \u201c{topic}\u201d now has an answer from the community",
        "Your question \u201c{topic}\u201d got a reply from the community, have a look",
        "The community came through on \u201c{topic}\u201d, here's the answer",
        "There's an answer waiting for you on \u201c{topic}\u201d",
        "Update on \u201c{topic}\u201d, a community member has answered it",
    ),
}
# Used when even a shortened topic does not fit.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "answer": (
        "This should sort it",
        "The community has already solved this one, have a look",
        "Here's what fixed it for others",
    ),
    "ask_community": (
        "Ask the community here, we've started the question for you",
        "Pop your question to the community here, it's already filled in",
        "Nobody has asked this yet, ask the community here",
    ),
    "private": PHRASINGS["private"],
    "follow_up": (
        "Your question has an answer from the community, take a look",
        "Good news, the community has answered your question",
        "There's an answer waiting for you",
    ),
}
KINDS = frozenset(PHRASINGS)

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\U000e0000-\U000e0fff]"
)
_SCHEME_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]{0,30}://|www\.)\S*")
_EMAIL = re.compile(r"(?<!\S)\S+@\S+")
_MENTION = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"\S+")
_LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")


def dm_link(account_id: str) -> str:
    """Return X's deep link that opens a DM to the account."""
    if not account_id.strip():
        raise ValueError("an account id is needed for a DM link")
    return DM_LINK.format(account_id=quote(account_id.strip(), safe=""))


def tweet_length(text: str) -> int:
    """Return a post's length as X counts it (URLs 23, CJK and emoji 2)."""
    return parse_tweet(text).weightedLength


def _is_punctuation(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PZ"


def _strip_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (_is_punctuation(text[start]) or _is_mark(text[start])):
        start += 1
    while end > start and _is_punctuation(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "M"


def sanitise_topic(topic: str, url: str = "") -> str:
    """Make a title safe to quote: no control characters, mentions, links or edge punctuation."""
    topic = unicodedata.normalize("NFKC", topic)
    topic = _INVISIBLE.sub("", topic)
    topic = "".join(
        " " if char.isspace() else char
        for char in topic
        if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    if url:
        topic = topic.replace(url, " ")
    topic = _SCHEME_URL.sub(" ", topic)
    topic = _EMAIL.sub(" ", topic)
    topic = _MENTION.sub(" ", topic).replace("@", " ")
    # twitter-text backtracks badly on long dotted runs ("a.a.a..."): they are never real words
    topic = _TOKEN.sub(
        lambda m: m.group(0).replace(".", " ") if m.group(0).count(".") > MAX_DOTS else m.group(0),
        topic,
    )
    for _ in range(5):  # removing one link can join the text around it into another
        links = extract_urls_with_indices(topic)
        if not links:
            break
        for link in reversed(links):
            start, end = link["indices"]
            topic = topic[:start] + " " + topic[end:]
    else:
        return ""
    return _strip_punctuation(_SPACE.sub(" ", topic))


def _links_or_mentions(text: str) -> bool:
    return bool(extract_urls_with_indices(text)) or "@" in text


def _char_weight(char: str) -> int:
    point = ord(char)
    light = point <= 4351 or 8192 <= point <= 8205 or 8208 <= point <= 8223 or 8242 <= point <= 8247
    return 1 if light else 2


def _cut_points(topic: str) -> tuple[list[int], list[int]]:
    """Places to cut, longest first: at spaces, then between any two characters."""
    words = [i for i in range(len(topic) - 1, 0, -1) if topic[i].isspace()]
    chars = [
        i
        for i in range(len(topic) - 1, 0, -1)
        if not _is_mark(topic[i]) and not 0x1F3FB <= ord(topic[i]) <= 0x1F3FF
    ]
    return words, chars


def _shorten(topic: str, render: str, over: int) -> str | None:
    """Cut the topic at a word (or else a character) so the rendered reply fits."""
    prefix = [0]
    for char in topic:
        prefix.append(prefix[-1] + _char_weight(char))
    for points in _cut_points(topic):
        target = prefix[-1] - over - _char_weight(ELLIPSIS)
        for cut in points:
            if prefix[cut] > target:
                continue
            core = _strip_punctuation(topic[:cut])
            if len(core) < MIN_TOPIC:
                break
            short = core + ELLIPSIS
            if _links_or_mentions(short):
                continue
            text = render.replace("{topic}", short)
            excess = tweet_length(text) - MAX_LENGTH
            if excess <= 0:
                return text
            target = prefix[cut] - excess
    return None


def _fit(template: str, fallback: str, prefix: str, topic: str, url: str) -> str:
    render = f"{prefix}{template} {url}"
    if topic and "{topic}" in template:
        text = render.replace("{topic}", topic)
        excess = tweet_length(text) - MAX_LENGTH
        if excess <= 0:
            return text
        shortened = _shorten(topic, render, excess)
        if shortened:
            return shortened
    text = f"{prefix}{fallback} {url}"
    if tweet_length(text) > MAX_LENGTH:
        raise ValueError("the url and handle alone do not fit in one post")
    return text


def _body(text: str) -> str:
    return _LEADING_MENTIONS.sub("", text)


def compose_reply(
    *, handle: str, kind: str, topic: str, url: str, seed: int, previous: str | None = None
) -> str:
    """Write a reply: "@handle", one friendly sentence naming the topic, then the url."""
    if kind not in KINDS:
        raise ValueError(f"unknown reply kind {kind!r}; expected one of {sorted(KINDS)}")
    match = HANDLE.fullmatch(handle)
    if not match:
        raise ValueError(f"not an X handle: {handle!r}")
    if not url or any(char.isspace() for char in url):
        raise ValueError(f"not a url: {url!r}")
    prefix = f"@{match.group(1)} "
    clean_topic = "" if kind == "private" else sanitise_topic(topic[:MAX_TOPIC_INPUT], url)
    # every character weighs at least 1, so anything past MAX_LENGTH is cut anyway
    clean_topic = clean_topic[: MAX_LENGTH + 1]
    phrasings, fallbacks = PHRASINGS[kind], FALLBACKS[kind]
    last = _body(previous) if previous else None
    text = ""
    for step in range(len(phrasings)):
        index = seed + step
        text = _fit(
            phrasings[index % len(phrasings)],
            fallbacks[index % len(fallbacks)],
            prefix,
            clean_topic,
            url,
        )
        if _body(text) != last:
            return text
    for fallback in fallbacks:  # the topic could not vary the text: vary the sentence itself
        text = _fit(fallback, fallback, prefix, "", url)
        if _body(text) != last:
            return text
    return text
