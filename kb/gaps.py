"""Content gaps: what people searched or asked on X and did not find, grouped by wording."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from kb.concierge.triage import redact_private
from kb.db import db
from kb.models import ContentGap, utcnow
from kb.search import backend

_HANDLE = re.compile(r"(?<!\w)@\w{1,15}")
_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_LONG_NUMBER = re.compile(r"\d{5,}")
_REDACTED = re.compile(r"\[redacted\]", re.I)


def normalise(text: str) -> str:
    """Lowercase words with handles, links, long numbers and personal data removed."""
    cleaned = redact_private(text or "")
    cleaned = _REDACTED.sub(" ", _URL.sub(" ", _HANDLE.sub(" ", cleaned)))
    cleaned = _LONG_NUMBER.sub(" ", cleaned)
    cleaned = re.sub(r"[^\w\s'?-]", " ", cleaned.lower())
    return " ".join(cleaned.split())[:300]


def record_gap(text: str, source: str) -> None:
    """Remember a search or mention that found nothing good (caller commits)."""
    normal = normalise(text)
    if len(normal) >= 3:
        db.session.add(ContentGap(text=normal, source=source))


def grouped(days: int = 90, limit: int = 50) -> list[dict[str, object]]:
    """Gaps grouped by similar wording (shared stems), biggest groups first."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.scalars(
        select(ContentGap)
        .where(ContentGap.created >= since, ContentGap.resolved.is_(False))
        .order_by(ContentGap.id.desc())
        .limit(5000)
    ).all()
    groups: list[dict[str, object]] = []
    for gap in rows:
        stems = set(backend().analyze(gap.text))
        if not stems:
            continue
        best, best_score = None, 0.0
        for group in groups:
            shared = stems & group["stems"]  # type: ignore[operator]
            score = len(shared) / len(stems | group["stems"])  # type: ignore[operator]
            if score > best_score:
                best, best_score = group, score
        if best is not None and best_score >= 0.5:
            best["count"] += 1  # type: ignore[operator]
            best["ids"].append(gap.id)  # type: ignore[attr-defined]
            best["sources"].add(gap.source)  # type: ignore[attr-defined]
            if len(best["examples"]) < 3 and gap.text not in best["examples"]:  # type: ignore[arg-type]
                best["examples"].append(gap.text)  # type: ignore[attr-defined]
        else:
            groups.append(
                {"stems": stems, "label": gap.text, "count": 1, "ids": [gap.id],
                 "sources": {gap.source}, "examples": [gap.text]}
            )  # fmt: skip
    groups.sort(key=lambda g: -int(g["count"]))  # type: ignore[call-overload]
    return groups[:limit]


def resolve_gaps(ids: list[int]) -> int:
    """Mark gaps as handled (an article was written or a question asked)."""
    count = 0
    for gap in db.session.scalars(select(ContentGap).where(ContentGap.id.in_(ids[:1000]))):
        gap.resolved = True
        count += 1
    db.session.commit()
    return count
