"""Turn a raw mention into plain text the concierge can read, and into a question title."""

from __future__ import annotations

import itertools
import re
import tomllib
import unicodedata
from pathlib import Path

from twitter_text import extract_urls_with_indices

SLANG_PATH = Path(__file__).with_name("slang.toml")

# X's API returns post text with these HTML entities escaped; nothing else is escaped.
HTML_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'", "&amp;": "&"}
APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'"})

# Invisible code points that are letters, marks or symbols by category: the category test
# alone misses them.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u0640\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})
# Emoji modifiers and keycaps are not "So" but belong to the emoji they follow.
EMOJI_PARTS = re.compile("[\U0001f3fb-\U0001f3ff\u20e3\u20e0]")
COMBINING = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
TOO_MANY_MARKS = re.compile(f"([{COMBINING}]{{4}})[{COMBINING}]+")  # "Zalgo" text

TOKEN = re.compile(r"\S+")
MAX_DOTS, MAX_LINK_TOKEN = 8, 300
URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
MENTION = re.compile(r"(?<![A-Za-z0-9_!#$%&*@])@[A-Za-z0-9_]+")
HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
WORD = re.compile(r"[^\W\d_]+")
RUN = re.compile(r"(.)\1{2,}")
SYMBOL_RUN = re.compile(r"([^\w\s.])\1+")
DOTS = re.compile(r"\.{4,}")
SPACE = re.compile(r"\s+")
LEADING_JUNK = re.compile(r"^[\s:;,.|/\\\-\u2013\u2014]+")

# Words whose double letter is real, so "gooood" becomes "good" and not "god".
DOUBLE_LETTER_WORDS = frozenset(
    """access account add address all app apps annoying bee been beep bill bills book boom boost
    boot boss buffer buffering buzz call called calling cheers class cool coffee connect connected
    connecting connection cross door dropped dropping egg fee feed feel feet fill free full
    getting glass good goodbye grass green happen happened happy hello hmm hmmm ill inn jazz keep
    kill less letting literally look loop loss mess miss missing mood moon need off offline
    pass password pool poor pull really seem see sell setting sleep small smooth soon sorry speed
    still stopped stopping stuff summer support sweet tell three too totally tree week well will
    wood yummy zoo""".split()
)
GREETING = re.compile(
    r"(?i)^(?:(?:hi+|hey+|hello|hiya|yo|morning|evening|afternoon|good (?:morning|afternoon|"
    r"evening)|dear|ok(?:ay)?|so|um+|erm+)(?:\s+(?:there|all|team|guys|folks|everyone|skylark"
    r"(?:\s+helps)?))?\b[\s,.!:;\-]*)+"
)
SIGN_OFF = re.compile(
    r"(?i)(?<![\s,.!-])[\s,.!-]*\b(?:thanks(?: so much| in advance)?|thank you|cheers|ta|x+)"
    r"[\s,.!x]*$"
)
SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f\u061f])\s+")
PROPER_WORDS = {"i": "I", "i'm": "I'm", "i've": "I've", "i'll": "I'll", "i'd": "I'd"}
PROPER_WORDS |= {"skylark": "Skylark", "tv": "TV", "dm": "DM", "dms": "DMs", "4k": "4K"}
TITLE_MIN, TITLE_MAX = 10, 150
TITLE_FALLBACK = "Question for the Skylark community"


def load_slang(path: Path | None = None, *, brand: bool = True) -> dict[str, str]:
    """Read the slang file's tables into one lowercase token-to-expansion mapping.

    `brand=False` keeps only the general abbreviations (pls, acct, pw...): brand slang such as
    "net" for internet would mangle questions about other subjects.
    """
    with (path or SLANG_PATH).open("rb") as handle:
        data = tomllib.load(handle)
    slang: dict[str, str] = {}
    for table in ("abbreviations", "brand") if brand else ("abbreviations",):
        for token, expansion in data.get(table, {}).items():
            slang[str(token).casefold()] = str(expansion)
    return slang


def strip_invisible(text: str) -> str:
    """Drop zero-width, control, format and unassigned characters; control spaces become spaces."""
    text = INVISIBLE.sub("", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" " if category == "Cc" else char)
        elif category not in DROPPED_CATEGORIES:
            kept.append(char)
    return "".join(kept)


def remove_urls(text: str) -> str:
    """Remove links, including bare domains that X would turn into links."""
    return TOKEN.sub(_remove_bare_links, URL.sub(" ", text))


def _remove_bare_links(match: re.Match[str]) -> str:
    token = match.group(0)
    # twitter-text backtracks badly on long dotted runs ("a.a.a..."), which are never links
    if "." not in token or token.count(".") > MAX_DOTS or len(token) > MAX_LINK_TOKEN:
        return token
    for entity in reversed(extract_urls_with_indices(token)):
        start, end = entity["indices"]
        if start and token[start - 1] == "@":
            continue  # the domain of an email address, which triage still needs to see
        token = token[:start] + " " + token[end:]
    return token


def remove_emoji(text: str) -> str:
    """Remove emoji, pictographs and other symbol characters."""
    text = EMOJI_PARTS.sub("", text)
    return "".join(char for char in text if unicodedata.category(char) != "So")


def split_hashtag(tag: str, slang: dict[str, str] | None = None) -> str:
    """Split a hashtag body into lowercase words at underscores, camelCase and digits."""
    if slang and tag.casefold() in slang:
        return tag.casefold()
    words: list[str] = []
    for part in filter(None, tag.split("_")):
        words.extend(_split_camel(part))
    return " ".join(words).lower()


def _kind(char: str) -> str:
    if unicodedata.category(char).startswith("M"):
        return "mark"
    if char.isdigit():
        return "digit"
    if char.isupper():
        return "upper"
    if char.islower():
        return "lower"
    return "other"


def _is_boundary(prev: str, cur: str, nxt: str) -> bool:
    cased = ("lower", "upper")
    return (
        (prev == "lower" and cur == "upper")
        or (prev == "upper" and cur == "upper" and nxt == "lower")
        or (prev in cased and cur == "digit")
        # "4K" and "5G" stay whole; "2day" and "3Down" split
        or (prev == "digit" and cur in cased and nxt == "lower")
        or (prev in cased and cur == "other")
        or (prev == "other" and cur in cased)
    )


def _split_camel(part: str) -> list[str]:
    kinds = [_kind(char) for char in part]
    words: list[str] = []
    start = 0
    for index in range(1, len(part)):
        nxt = kinds[index + 1] if index + 1 < len(part) else ""
        if kinds[index] != "mark" and _is_boundary(kinds[index - 1], kinds[index], nxt):
            words.append(part[start:index])
            start = index
    words.append(part[start:])
    return [word for word in words if word]


def _collapse_word(word: str) -> str:
    """Collapse letters repeated three or more times, keeping real double letters."""
    runs = [m for m in RUN.finditer(word) if ord(m.group(1)) < 0x0530 and m.group(1).isalpha()]
    if not runs:
        return word
    if len(runs) <= 4:
        for lengths in itertools.product((1, 2), repeat=len(runs)):
            candidate = _rebuild(word, runs, lengths)
            if candidate.casefold() in DOUBLE_LETTER_WORDS:
                return candidate
    return _rebuild(word, runs, (1,) * len(runs))


def _rebuild(word: str, runs: list[re.Match[str]], lengths: tuple[int, ...]) -> str:
    pieces, last = [], 0
    for match, length in zip(runs, lengths, strict=True):
        pieces.append(word[last : match.start()])
        pieces.append(match.group(1) * length)
        last = match.end()
    pieces.append(word[last:])
    return "".join(pieces)


def collapse_elongations(text: str) -> str:
    """Turn "sooo" into "so" and "!!!!" into "!" while keeping words like "free" and "good"."""
    text = WORD.sub(lambda m: _collapse_word(m.group(0)), text)
    text = SYMBOL_RUN.sub(r"\1", text)
    return DOTS.sub("...", text)


def _slang_pattern(slang: dict[str, str]) -> re.Pattern[str] | None:
    if not slang:
        return None
    keys = sorted(slang, key=len, reverse=True)
    alternation = "|".join(re.escape(key) for key in keys)
    return re.compile(rf"(?<![\w'/@#.\-])(?:{alternation})(?![\w'/\-])(?!\.\w)", re.IGNORECASE)


_PATTERN_CACHE: dict[tuple[tuple[str, str], ...], re.Pattern[str] | None] = {}


def expand_slang(text: str, slang: dict[str, str]) -> str:
    """Replace slang and abbreviations, matched case-insensitively as whole tokens."""
    key = tuple(sorted(slang.items()))
    if key not in _PATTERN_CACHE:
        _PATTERN_CACHE.clear()  # one slang table is in use at a time; keep the cache tiny
        _PATTERN_CACHE[key] = _slang_pattern(slang)
    pattern = _PATTERN_CACHE[key]
    if pattern is None:
        return text

    def replace(match: re.Match[str]) -> str:
        token, expansion = match.group(0), slang[match.group(0).casefold()]
        if token.casefold() == expansion.casefold() and expansion.islower():
            return token  # an entry that only names the word ("router") keeps its spelling
        if expansion and token[0].isupper() and expansion == expansion.lower():
            return expansion[0].upper() + expansion[1:]
        return expansion

    return pattern.sub(replace, text)


def clean_tweet(text: str, *, account_handle: str, slang: dict[str, str]) -> str:
    """Reduce a mention to plain words: no handles, links, emoji, elongations or slang."""
    for entity, char in HTML_ENTITIES.items():
        text = text.replace(entity, char)
    text = unicodedata.normalize("NFKC", text).translate(APOSTROPHES)
    text = strip_invisible(text)
    text = TOO_MANY_MARKS.sub(r"\1", text)
    text = remove_urls(text)
    text = MENTION.sub(" ", text)
    handle = account_handle.lstrip("@")
    if handle:
        text = re.sub(rf"(?i)(?<!\w){re.escape(handle)}(?!\w)", " ", text)
    text = HASHTAG.sub(lambda m: " " + split_hashtag(m.group(1), slang) + " ", text)
    text = remove_emoji(text)
    text = collapse_elongations(text)
    text = SPACE.sub(" ", text)
    text = expand_slang(text, slang)
    text = SPACE.sub(" ", text).strip()
    return LEADING_JUNK.sub("", text)


def _sentence_case(text: str) -> str:
    letters = [char for char in text if char.isalpha() and (char.isupper() or char.islower())]
    if len(letters) >= 4 and sum(char.isupper() for char in letters) / len(letters) > 0.7:
        text = text.lower()
    text = re.sub(
        r"(?<![\w'])[\w']+(?![\w'])", lambda m: PROPER_WORDS.get(m.group(0), m.group(0)), text
    )
    for index, char in enumerate(text):
        if char.isalpha():
            return text[:index] + char.upper() + text[index + 1 :]
    return text


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "\u2026"


def _pick_title(cleaned: str, sentences: list[str]) -> str:
    if len(cleaned) <= TITLE_MAX:
        return cleaned
    for index, part in enumerate(sentences):
        if part[-1] not in "?\uff1f\u061f":
            continue
        with_context = " ".join(sentences[max(index - 1, 0) : index + 1])
        if len(with_context) <= TITLE_MAX:
            return with_context
        if TITLE_MIN <= len(part) <= TITLE_MAX:
            return part
    if TITLE_MIN <= len(sentences[0]) <= TITLE_MAX:
        return sentences[0]
    return _shorten(cleaned, TITLE_MAX)


def title_from_tweet(text: str, *, account_handle: str, slang: dict[str, str] | None = None) -> str:
    """Make a question title (10-150 characters, sentence case) from a mention's text."""
    cleaned = clean_tweet(
        text, account_handle=account_handle, slang=load_slang() if slang is None else slang
    )
    cleaned = GREETING.sub("", cleaned).strip()
    cleaned = LEADING_JUNK.sub("", cleaned)
    if not cleaned:
        return TITLE_FALLBACK
    cleaned = SIGN_OFF.sub("", cleaned).strip() or cleaned
    sentences = [part.strip() for part in SENTENCE_END.split(cleaned) if part.strip()]
    title = _pick_title(cleaned, sentences)
    title = _sentence_case(title.rstrip(" ,;:-"))
    if len(title) < TITLE_MIN:
        title = f"Help needed: {title}"
    return title
