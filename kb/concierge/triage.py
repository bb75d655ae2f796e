"""Decide what the concierge does with a mention: help, invite a DM, stay quiet or ignore it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

HELP = "help"
PRIVATE = "private"
OPT_OUT = "opt_out"
OPT_IN = "opt_in"
NO_REPLY = "no_reply"
IGNORE = "ignore"
ALREADY_REPLIED = "already_replied"
KINDS = frozenset({HELP, PRIVATE, OPT_OUT, OPT_IN, NO_REPLY, IGNORE, ALREADY_REPLIED})

NOTHING_LEFT = "nothing left after cleaning (only mentions, links or emoji)"
NOTHING_FOUND = "no question or problem found"


@dataclass(frozen=True)
class MentionFacts:
    """What the concierge knows about one mention, as read from X."""

    text: str
    author_id: str
    author_username: str
    account_id: str
    account_username: str
    is_repost: bool
    is_from_automated_account: bool = False
    conversation_id: str | None = None
    in_reply_to_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """What to do with a mention, and a human-readable reason why."""

    kind: str
    reason: str


@dataclass(frozen=True)
class Rule:
    """A named pattern; for private data, `data` marks the group to redact."""

    label: str
    pattern: re.Pattern[str]
    redact: bool = False
    min_digits: int = 0
    max_digits: int = 99


def _rule(label: str, pattern: str, *, redact: bool = False, flags: int = re.I, **kw: int) -> Rule:
    return Rule(label, re.compile(pattern, flags), redact, **kw)


# Anything not aimed at the bot itself, e.g. "opt out of marketing emails", is a question instead.
_NOT_THE_BOT = r"(?!\s+(?:of|from|to|for)\s+(?!(?:this|these|the bot|bot|replies|your|you)\b))"
_NOT_SAID_BY_OTHERS = r"(?<!you )(?<!they )(?<!who )(?<!why )(?<!u )"

# Whole-message commands, compared after dropping FILLER words, in the spirit of SMS keywords.
OPT_OUT_COMMANDS = frozenset(
    {"stop", "stop all", "stopall", "unsubscribe", "unsub", "opt out", "optout", "opt-out"}
    | {"stop it", "stop that", "end", "quit", "stop replying", "no more", "go away"}
)
OPT_IN_COMMANDS = frozenset(
    {"start", "unstop", "opt in", "optin", "opt-in", "resume", "subscribe", "resubscribe"}
    | {"start again", "opt back in", "start replying"}
)
FILLER = frozenset(
    "please pls plz now me just bot thanks thank you ok okay skylark skylarkhelps the ffs"
    " seriously already kindly".split()
)
OPT_OUT_PHRASES: tuple[Rule, ...] = (
    _rule(
        "stop replying",
        r"(?<!don't )(?<!dont )(?<!do not )(?<!never )\bstop (?:replying|responding|answering"
        r"|tweeting|messaging|tagging|mentioning|spamming|sending|contacting|bothering|dming"
        r"|@ing|at-ing)(?: (?:to|at) me| me)?(?!\w)",
    ),
    _rule(
        "stop the bot",
        r"\b(?:stop|quit|enough|end)(?: with)? (?:the|this|these|your) (?:bot|bots|replies"
        r"|automated replies|auto replies|auto-replies|automated messages)\b",
    ),
    _rule(
        "don't reply",
        _NOT_SAID_BY_OTHERS + r"\b(?:don't|dont|do not|never) (?:ever )?(?:reply|respond|answer"
        r"|tweet|message|dm|contact|tag|mention|@)(?: (?:to|at) me| me)?(?!\w)(?! to my)",
    ),
    _rule("leave me alone", r"\bleave me alone\b"),
    _rule("go away", r"^(?:please |pls )?go away\b"),
    _rule(
        "no more replies",
        r"\bno more (?:replies|bot|bots|automated|auto|messages|tweets|spam)\b",
    ),
    _rule("unsubscribe me", r"\bunsubscribe me\b"),
    _rule("opt out", r"\bopt(?: me)?[ -]?out\b" + _NOT_THE_BOT),
    _rule("remove me", r"\b(?:remove|take) me (?:off|from) (?:your|the|this) (?:list|replies|bot)"),
    _rule("unsubscribe", r"\bunsubscribe\b" + _NOT_THE_BOT + r"(?![^?]*\?)"),
)
OPT_IN_PHRASES: tuple[Rule, ...] = (
    _rule("unstop", r"\bunstop\b"),
    _rule(
        "you can reply again",
        r"\byou can (?:reply|respond|tweet|message|contact|answer)(?: (?:to )?me)?(?: again)"
        r"|\byou can (?:reply|respond|tweet|message|contact|answer) (?:to )?me\b",
    ),
    _rule(
        "start replying",
        r"(?<!don't )(?<!dont )(?<!never )\b(?:start|resume) (?:replying|responding)\b",
    ),
    _rule("opt in", r"\bopt (?:me )?(?:back )?in\b" + _NOT_THE_BOT),
    _rule("reply again", r"\b(?:reply|respond) to me again\b|\bok(?:ay)? to reply\b"),
    _rule("replies back on", r"\bturn (?:the )?replies (?:back )?on\b"),
    _rule("resubscribe", r"\bre-?subscribe\b" + _NOT_THE_BOT),
)

# Private data: patterns with `redact` find data to hide; the others only name a private topic.
_STREET_TYPES = (
    r"(?i:street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|court|ct|crescent|place"
    r"|gardens|terrace|grove|hill|park|square|row|mews|walk|rise|view|parade)"
)
PRIVATE_RULES: tuple[Rule, ...] = (
    _rule("contains an email address", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", redact=True),
    _rule(
        "contains a card number",
        r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])",
        redact=True,
        min_digits=13,
    ),
    _rule(
        "contains a bank account number",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",
        redact=True,
        flags=0,
    ),
    _rule(
        "contains a phone number",
        r"(?<![\w+])(?:\+\d{1,3}[\s.-]?|\b0)(?:\(0\)\s?)?\d{2,5}(?:[\s.-]?\d{2,4}){1,4}(?!\w)",
        redact=True,
        min_digits=10,
        max_digits=13,
    ),
    _rule(
        "contains a sort code",
        r"\bsort[ -]?code\b(?:\s*(?:is|:|=|-))?\s*(?P<data>\d{2}[- ]?\d{2}[- ]?\d{2})?",
        redact=True,
    ),
    _rule(
        "contains an account number",
        r"\b(?:account|acct|acc|a/c|customer|membership|member|reference|ref|contract)\.?"
        r"(?:\s*(?:number|no\.?|num|#|id|ref))?(?:\s*(?:is|was|=|:|#))?\s*"
        r"(?P<data>[A-Z]{0,4}[-/]?\d[\d -]{3,}\d)",
        redact=True,
    ),
    _rule(
        "contains an order number",
        r"\border(?:\s*(?:number|no\.?|num|#|id|ref))?(?:\s*(?:is|was|=|:|#))?\s*"
        r"(?P<data>#?[A-Z]{0,4}-?\d{4,}(?:-[A-Z0-9]+)*)",
        redact=True,
    ),
    _rule("contains a reference number", r"#?\b[A-Z]{2,4}-\d{4,}\b", redact=True, flags=0),
    _rule(
        "contains a postal address",
        r"\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\s+){1,3}" + _STREET_TYPES + r"\b\.?",
        redact=True,
        flags=0,
    ),
    _rule(
        "contains a postcode",
        r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b",
        redact=True,
    ),
    _rule(
        "shares a password or PIN",
        r"\b(?:password|passcode|pin|pw)\s*(?:is|was|=|:)\s*(?P<data>\S+)",
        redact=True,
    ),
    _rule(
        "contains a long number (possibly an account number)",
        r"(?<![\d.,])\d{8,}(?![\d.,])",
        redact=True,
    ),
    _rule(
        "mentions billing or payment details",
        r"\b(?:billing (?:address|details|info)|payment (?:details|info|method)|card (?:details"
        r"|number|no|num)|long card number|expiry date|exp date|cvv|cvc|cv2|security code"
        r"|bank (?:details|account)|sort ?code|direct debit (?:details|mandate)"
        r"|last (?:4|four) digits)\b",
    ),
    _rule(
        "mentions an account number",
        r"\b(?:account|acct|customer|reference|contract) (?:number|no|num|id)\b",
    ),
    _rule(
        "mentions a postal address",
        r"\b(?:my|home|postal|delivery|installation|new) address\b|\bmy email address\b",
    ),
)

SPAM_RULES: tuple[Rule, ...] = (
    _rule(
        "spam",
        r"\b(?:crypto\w*|bitcoin|btc|nfts?|airdrop|forex|onlyfans|sugar daddy|f4f|giveaway"
        r"|investment opportunit\w+|earn \$?\d+|make money|work from home|passive income"
        r"|free followers|buy followers|follow (?:me|back|for follow)|check (?:out )?my (?:profile"
        r"|channel|page|bio|link|pinned)|link in (?:my )?bio|dm me for|whatsapp me|telegram me"
        r"|hire a hacker|recover your (?:account|funds)|click (?:the |my |this )?link)\b",
    ),
)
THANKS_RULES: tuple[Rule, ...] = (
    _rule(
        "thanks",
        r"\b(?:thank you|thanks so much|many thanks|thanks|thank|ta|cheers|much appreciated"
        r"|appreciate (?:it|you|that|the help))\b(?: (?:for|4) [^.!?]*?(?=\b(?:but|however|though"
        r"|still|except)\b|[.!?]|$))?",
    ),
    _rule(
        "resolved",
        r"\b(?:all |it's |its |now )?(?:sorted|fixed|resolved)(?: now| it)?\b|\b(?:working|back"
        r" up|back on|back online)(?: again| now)(?: and running)?\b|\bthat (?:worked|did it"
        r"|did the trick)\b",
    ),
)
PRAISE_RULES: tuple[Rule, ...] = (
    _rule(
        "praise",
        r"\b(?:love|loving|amazing|brilliant|awesome|fantastic|superb|excellent|outstanding"
        r"|impressed|legends?|you're a star|top notch|kudos|well done|great (?:job|service"
        r"|work|stuff|team)|good (?:job|service|work)|(?:the )?best (?:service|broadband"
        r"|internet|wifi|provider|company|ever)|the best|10/10|five stars|5 stars)\b",
    ),
)
# Said about a problem that is not there, so "never down" is not a report of an outage.
NEGATED_PROBLEM = re.compile(
    r"\b(?:never|no longer|not once|zero|no more|without any|no)\s+(?:\w+\s+)?(?:down|dropp\w*"
    r"|drops|buffer\w*|slow\w*|issues?|problems?|outages?|lag\w*|complaints?)\b",
    re.I,
)
PROBLEM_RULES: tuple[Rule, ...] = (
    _rule(
        "problem",
        r"\b(?:not|isn't|isnt|aren't|wasn't|stopped|never) (?:\w+ )?(?:working|work|loading"
        r"|connecting|connected|coming on|turning on)\b"
        r"|\b(?:doesn't|does not|won't|will not|didn't|can't|cannot|can not|couldn't|unable to"
        r"|don't|do not)\b(?! (?:wait|forget|worry|miss))"
        r"|\bno (?:internet|signal|connection|wifi|service|sound|picture|audio|video|channels?"
        r"|broadband|tv|dial tone|lights?|response|reply|access)\b"
        r"|\b(?:keeps|kept|keep) \w+ing\b"
        r"|\b(?:down|outages?|offline|dropp\w*|drops|disconnect\w*|cut(?:s|ting)? out|buffer\w*"
        r"|lag|lagg\w*|freez\w*|frozen|crash\w*|glitch\w*|slow|slower|slowest|sluggish|broken"
        r"|broke|errors?|error code|faults?|faulty|help|issues?|problems?|fix|trouble|struggling"
        r"|stuck|flashing|blinking|red light|orange light|charged|overcharged|refund|terrible"
        r"|awful|worst|useless|rubbish|appalling|shocking|nightmare|ridiculous|unacceptable"
        r"|disgusting|fuming|furious|still waiting)\b",
    ),
)
CHATTER_RULES: tuple[Rule, ...] = (
    _rule(
        "chatter",
        r"^(?:hi|hello|hey|hiya|yo|gm|gn|morning|good (?:morning|night|evening|afternoon))"
        r"(?: all| everyone| there| team)?[\s!.]*$"
        r"|\b(?:lol|lmao|rofl|haha\w*|hehe\w*|omg)\b"
        r"|\b(?:what a (?:game|match|goal|show|episode|finish|save)|come on \w+|get in"
        r"|who's watching|whos watching|anyone (?:else )?watching|can't wait for|cannot wait for"
        r"|happy (?:friday|monday|weekend|birthday|new year|christmas|holidays|easter)"
        r"|merry christmas|good (?:game|match))\b",
    ),
)
REQUEST_RULES: tuple[Rule, ...] = (
    _rule(
        "request",
        r"\b(?:moving house|move house|home move|cancel(?:ling)? my|upgrad\w+ my|set(?:ting)? up"
        r"|install\w*|reset my|change my|need (?:a|an|to|help)|want to|looking for|trying to)\b",
    ),
)
QUESTION_MARKS = ("?", "\uff1f", "\u061f", "\u00bf", "\u2e2e")
QUESTION_RULES: tuple[Rule, ...] = (
    _rule(
        "question",
        r"(?:^|[.!?]\s+)(?:how|why|what|when|where|which|who|whose|can|could|is|are|am|does"
        r"|do|did|will|would|should|has|have|anyone|anybody|any ideas?|is there)\b"
        r"|\b(?:how (?:do|can|to|should|long|much|come)|why (?:is|does|do|are|can't|won't"
        r"|isn't|has|have)|what (?:is|does|do|should|happened|'s)|any ?(?:one|body) (?:know"
        r"|else)|any (?:idea|ideas|advice|tips)|is it (?:just me|normal|possible)|is there"
        r" (?:a|an|any)|can (?:i|you|someone|anyone)|could (?:i|you|someone|anyone)|i need"
        r"|i want to|where (?:is|can|do)|when (?:will|is|does))\b",
    ),
)

_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'"})
_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b(?:t\.co|pic\.twitter\.com)/\S+")
_MENTION = re.compile(r"(?<![A-Za-z0-9_!#$%&*@])@[A-Za-z0-9_]+")
_SPACE = re.compile(r"\s+")
_WORDS = re.compile(r"[\w'@-]+")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc") or c.isspace())
    return _SPACE.sub(" ", text).strip().casefold()


def _first(rules: tuple[Rule, ...], text: str) -> tuple[Rule, str] | None:
    for rule in rules:
        match = rule.pattern.search(text)
        if match:
            return rule, match.group(0).strip()
    return None


def _command(text: str) -> str:
    """Reduce a short message to its command words: "Stop!! pls" becomes "stop"."""
    words: list[str] = []
    for word in _WORDS.findall(text):
        if word not in FILLER and not word.startswith("@") and (not words or words[-1] != word):
            words.append(word)
    return " ".join(words)


def _handle(name: str) -> str:
    return name.lstrip("@").casefold()


def _private_spans(text: str) -> list[tuple[int, int, str]]:
    """Find private data as (start, end, reason), skipping links and handles."""
    shielded = [m.span() for m in _URL.finditer(text)] + [m.span() for m in _MENTION.finditer(text)]
    spans: list[tuple[int, int, str]] = []
    for rule in PRIVATE_RULES:
        for match in rule.pattern.finditer(text):
            group = "data" if "data" in rule.pattern.groupindex else 0
            if match.group(group) is None:
                continue
            start, end = match.span(group)
            digits = sum(char.isdigit() for char in match.group(group))
            if rule.min_digits and not rule.min_digits <= digits <= rule.max_digits:
                continue
            if any(start < s_end and s_start < end for s_start, s_end in shielded):
                continue
            spans.append((start, end, rule.label if rule.redact else ""))
    return spans


def find_private(text: str) -> str | None:
    """Say which kind of private data a text holds, or None."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    found = {reason for _, _, reason in _private_spans(text) if reason}
    stripped = _MENTION.sub(" ", _URL.sub(" ", text))
    for rule in PRIVATE_RULES:
        if rule.label in found or (not rule.redact and rule.pattern.search(stripped)):
            return rule.label
    return None


def redact_private(text: str) -> str:
    """Replace private data (emails, numbers, addresses...) with "[redacted]"."""
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    spans = sorted((start, end) for start, end, reason in _private_spans(text) if reason)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + "[redacted]" + text[end:]
    return text


def _opt_request(text: str) -> Decision | None:
    command = _command(text)
    if command in OPT_OUT_COMMANDS:
        return Decision(OPT_OUT, f"opt-out request: '{command}'")
    found = _first(OPT_OUT_PHRASES, text)
    if found:
        return Decision(OPT_OUT, f"opt-out request: '{found[1]}'")
    if command in OPT_IN_COMMANDS:
        return Decision(OPT_IN, f"opt-in request: '{command}'")
    found = _first(OPT_IN_PHRASES, text)
    if found:
        return Decision(OPT_IN, f"opt-in request: '{found[1]}'")
    return None


def _problem(text: str) -> str | None:
    found = _first(PROBLEM_RULES, NEGATED_PROBLEM.sub(" ", text))
    return f"problem: '{found[1]}'" if found else None


def _help_signal(text: str) -> str | None:
    problem = _problem(text)
    if problem:
        return problem
    if any(mark in text for mark in QUESTION_MARKS):
        return "question: contains a question mark"
    found = _first(QUESTION_RULES, text)
    if found:
        return f"question: '{found[1].lstrip('.!? ')}'"
    found = _first(REQUEST_RULES, text)
    if found:
        return f"request: '{found[1]}'"
    return None


def _intent(text: str) -> Decision:
    for rules in (THANKS_RULES, PRAISE_RULES):
        hit = _first(rules, text)
        if hit:
            rest = text
            for rule in THANKS_RULES + PRAISE_RULES:
                rest = rule.pattern.sub(" ", rest)
            if _help_signal(rest) is None:
                return Decision(NO_REPLY, f"{hit[0].label}: '{hit[1]}'")
    problem = _problem(text)
    if problem:
        return Decision(HELP, problem)
    # chatter before questions: "who's watching tonight?" wants no link to the knowledge base
    found = _first(CHATTER_RULES, text)
    if found:
        return Decision(NO_REPLY, f"chatter: '{found[1]}'")
    signal = _help_signal(text)
    if signal:
        return Decision(HELP, signal)
    return Decision(NO_REPLY, NOTHING_FOUND)


def triage(
    facts: MentionFacts,
    *,
    suppressed: frozenset[str] | set[str],
    replied_conversations: set[str] | frozenset[str],
    cleaned_text: str,
) -> Decision:
    """Decide what the concierge should do with one mention."""
    same_id = bool(facts.author_id) and facts.author_id == facts.account_id
    same_name = bool(facts.author_username) and _handle(facts.author_username) == _handle(
        facts.account_username
    )
    if same_id or same_name:
        return Decision(IGNORE, "own post")
    if facts.is_repost or re.match(r"RT @\w+:", facts.text):
        return Decision(IGNORE, "repost")
    if facts.is_from_automated_account:
        return Decision(IGNORE, "automated account")
    text = _normalise(cleaned_text)
    opt = _opt_request(text)
    if opt:
        return opt
    blocked = {_handle(name) for name in suppressed}
    if _handle(facts.author_username) in blocked or facts.author_id in suppressed:
        return Decision(IGNORE, "suppressed handle (opted out)")
    replied = {facts.conversation_id, facts.in_reply_to_id} & set(replied_conversations)
    if replied - {None}:
        return Decision(ALREADY_REPLIED, "already replied in this conversation")
    spam = _first(SPAM_RULES, text)
    if spam:
        # before the private check: spam often carries a phone number, and a DM invite helps no one
        return Decision(NO_REPLY, f"spam: '{spam[1]}'")
    private = find_private(facts.text) or find_private(cleaned_text)
    if private:
        return Decision(PRIVATE, private)
    if not text:
        return Decision(NO_REPLY, NOTHING_LEFT)
    return _intent(text)
