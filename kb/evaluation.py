"""`kb eval`: how well the matcher finds the right thread or article, as numbers.

Reads {"query": ..., "relevant": [key | slug | thread id, ...]} lines and reports P@1, MRR,
nDCG@10, Recall@10 and latency for the same matcher `kb match` and the concierge use.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from statistics import median, quantiles
from typing import Any

from kb.errors import ValidationError

K = 10


@dataclass
class EvalResult:
    """Scores over a query set (each in 0..1) and latency in milliseconds."""

    queries: int
    p_at_1: float
    mrr: float
    ndcg_at_10: float
    recall_at_10: float
    latency_p50_ms: float
    latency_p95_ms: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json."""
        return asdict(self)


def read_cases(lines: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Parse the query file; a bad line is an error naming its line number."""
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValidationError(f"line {number}: not valid JSON ({err.msg})") from None
        query, relevant = (
            (obj.get("query"), obj.get("relevant")) if isinstance(obj, dict) else (None, None)
        )
        if not isinstance(query, str) or not isinstance(relevant, list) or not relevant:
            raise ValidationError(f"line {number}: needs a 'query' string and a 'relevant' list")
        cases.append((query, [str(r) for r in relevant]))
    if not cases:
        # An empty file would score 0.000 everywhere and exit 0: a silent, misleading pass.
        raise ValidationError('no queries: write one {"query", "relevant"} object a line')
    return cases


def hit_ids(hit: dict[str, Any]) -> set[str]:
    """Every identifier a hit answers to: its key, slug, or thread id."""
    ids = {str(hit["key"])} if hit.get("key") else set()
    if hit["kind"] == "thread":
        ids.add(str(hit["id"]))
    return ids


def evaluate(
    cases: list[tuple[str, list[str]]], matcher: Callable[[str], list[dict[str, Any]]]
) -> EvalResult:
    """Run every query through `matcher` and score the ranked hits."""
    p1 = rr = ndcg = recall = 0.0
    latencies = []
    for query, relevant in cases:
        wanted = set(relevant)
        started = time.perf_counter()
        hits = matcher(query)[:K]
        latencies.append((time.perf_counter() - started) * 1000)
        found_at = [i for i, hit in enumerate(hits) if hit_ids(hit) & wanted]
        seen: set[str] = set()
        gains = []
        for hit in hits:
            match = hit_ids(hit) & wanted - seen
            seen |= match
            gains.append(1.0 if match else 0.0)
        if found_at:
            rr += 1.0 / (found_at[0] + 1)
            p1 += 1.0 if found_at[0] == 0 else 0.0
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(wanted), K)))
        ndcg += dcg / ideal if ideal else 0.0
        recall += len(seen) / len(wanted)
    n = max(1, len(cases))
    p95 = (
        quantiles(latencies, n=20)[-1]
        if len(latencies) > 1
        else (latencies[0] if latencies else 0.0)
    )
    return EvalResult(
        queries=len(cases), p_at_1=round(p1 / n, 4), mrr=round(rr / n, 4),
        ndcg_at_10=round(ndcg / n, 4), recall_at_10=round(recall / n, 4),
        latency_p50_ms=round(median(latencies), 2) if latencies else 0.0,
        latency_p95_ms=round(p95, 2),
    )  # fmt: skip


def baseline_matcher(text: str) -> list[dict[str, Any]]:
    """BM25 over titles only, with the same hit shape as `match`."""
    from kb.search import backend
    from kb.search.service import describe_hits

    return describe_hits(backend().baseline_search(text, limit=K))
