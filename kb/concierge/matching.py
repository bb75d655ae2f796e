"""Matching a mention to the knowledge base: clean the tweet, call `match`, score confidence."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import select

from kb.concierge.cleaning import clean_tweet, load_slang
from kb.db import db
from kb.models import Answer, Article, Thread
from kb.search import backend
from kb.search.service import match


@dataclass
class MatchResult:
    """The best solved thread or article for a mention, and how sure we are."""

    confidence: float
    hit: dict[str, Any] | None
    hits: list[dict[str, Any]]


@lru_cache(maxsize=2)
def slang_table(brand: bool = True) -> dict[str, str]:
    """The brand's slang and abbreviations (kb/concierge/slang.toml); brand=False: general only."""
    return load_slang(brand=brand)


def clean(text: str, account_handle: str) -> str:
    """The mention as plain words, ready for matching."""
    return clean_tweet(text, account_handle=account_handle, slang=slang_table())


def _doc_text(hit: dict[str, Any]) -> str:
    if hit["kind"] == "article":
        article = db.session.get(Article, hit["id"])
        if article is None:
            return ""
        tags = " ".join(article.tag_names)
        return f"{article.title} {article.summary} {tags} {article.body_md[:1500]}"
    thread = db.session.get(Thread, hit["id"])
    if thread is None:
        return ""
    accepted = ""
    if thread.accepted_answer_id:
        accepted = (
            db.session.scalar(select(Answer.body_md).where(Answer.id == thread.accepted_answer_id))
            or ""
        )
    return f"{thread.title} {' '.join(thread.tag_names)} {thread.body_md[:600]} {accepted[:400]}"


def confidence_for(query_terms: list[str], hits: list[dict[str, Any]]) -> float:
    """0..1: how much of the question the best hit covers, and how clearly it wins."""
    if not query_terms or not hits:
        return 0.0
    top = hits[0]
    doc_terms = set(backend().analyze(_doc_text(top)))
    # Coverage weighted by rarity (clipped, so one odd word cannot decide alone);
    # filler words ("please", "help") barely count and unknown words not at all.
    weights = {
        t: min(3.0, max(0.5, w))
        for t, w in backend().term_weights(sorted(set(query_terms))).items()
    }
    total = sum(weights.values()) or 1.0
    coverage = sum(w for t, w in weights.items() if t in doc_terms) / total
    # Mostly words the knowledge base has never seen (another language, noise): be unsure.
    coverage *= (len(weights) / len(set(query_terms))) ** 0.75
    second = hits[1]["score"] if len(hits) > 1 else 0.0
    margin = top["score"] / (top["score"] + second) if top["score"] > 0 else 0.0
    quality = 1.0 if top.get("solved") else 0.7
    return round(max(0.0, min(1.0, coverage * (0.75 + 0.5 * (margin - 0.5)) * quality)), 3)


def match_mention(cleaned: str, limit: int = 5) -> MatchResult:
    """Match cleaned mention text; the answer is the best solved thread or article."""
    hits = match(cleaned, limit=limit)
    solved = [h for h in hits if h.get("solved")]
    if not solved:
        return MatchResult(confidence=0.0, hit=None, hits=hits)
    ranked = solved + [h for h in hits if not h.get("solved")]
    score = confidence_for(backend().analyze(cleaned), ranked)
    threshold = float(current_app.config["CONCIERGE_MATCH_THRESHOLD"])
    return MatchResult(confidence=score, hit=solved[0] if score >= threshold else None, hits=hits)
