"""Search-result snippets: the passages of a text where the query's words occur, marked.

Whoosh's highlighter re-analyses the whole text through its filter chain for every hit
(about half a millisecond each, most of a search at 100,000 threads). Here each distinct
word is stemmed once per process (the vocabulary of a site is small) and the passages are
chosen with plain arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from html import escape

WORD = re.compile(r"\w+(?:\.?\w+)*")  # the index's tokenizer (Whoosh's default pattern)
MAX_CHARS = 220  # characters per passage
SURROUND = 60  # context before the first marked word of a passage
PASSAGES = 2
BETWEEN = " … "
MAX_MATCHES = 200  # enough to find the best passages of any post


def make_stemmer(stem_word: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """A memoised word -> index term function (None for stop words)."""
    return lru_cache(maxsize=100_000)(stem_word)


def _passages(matches: list[tuple[int, int, str]], size: int) -> list[tuple[int, int]]:
    """Up to PASSAGES non-overlapping (start, end) windows with the most distinct terms."""
    scored = []
    for i, (start, _, _) in enumerate(matches):
        begin = max(0, start - SURROUND)
        end = min(size, begin + MAX_CHARS)
        inside = []
        for m in matches[i:]:
            if m[1] > end:
                break
            inside.append(m[2])
        scored.append((len(set(inside)), len(inside), -begin, begin, end))
    scored.sort(reverse=True)
    chosen: list[tuple[int, int]] = []
    for *_, begin, end in scored:
        if all(end <= b or begin >= e for b, e in chosen):
            chosen.append((begin, end))
            if len(chosen) == PASSAGES:
                break
    return sorted(chosen)


def _snap(text: str, begin: int, end: int) -> tuple[int, int]:
    """Move a window's edges off the middle of words."""
    if begin > 0:
        space = text.find(" ", begin, begin + 20)
        begin = space + 1 if space != -1 else begin
    if end < len(text):
        space = text.rfind(" ", end - 20, end)
        end = space if space > begin else end
    return begin, end


def highlight(text: str, terms: frozenset[str], stem: Callable[[str], str | None]) -> str:
    """HTML (escaped) of the best passages of `text` with the query's words in <mark>."""
    matches = [
        (m.start(), m.end(), term)
        for m in WORD.finditer(text)
        if (term := stem(m.group().lower())) in terms
    ][:MAX_MATCHES]
    if not matches:
        return ""
    parts = []
    for begin, end in _passages(matches, len(text)):
        begin, end = _snap(text, begin, end)
        out, at = [], begin
        for start, stop, _ in matches:
            if start >= begin and stop <= end:
                out.append(escape(text[at:start]))
                out.append(f"<mark>{escape(text[start:stop])}</mark>")
                at = stop
        out.append(escape(text[at:end]))
        parts.append("".join(out).strip())
    return BETWEEN.join(p for p in parts if p)
