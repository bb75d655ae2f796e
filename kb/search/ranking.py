"""BM25 over whole posting lists at once, with numpy: the search backend's scorer.

Whoosh's own matchers score one posting at a time in Python (about 7 µs each); at 100,000
threads a common query has thousands of candidates. Here a query term's postings arrive as
two arrays (document numbers and term frequencies) and each step below is one numpy
operation over all of them, so a query costs about as much as reading its postings.

Nothing here imports whoosh: the backend turns its posting blocks into these arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

B, K1 = 0.75, 1.2  # Whoosh's BM25F defaults, which the index was tuned with


class Postings:
    """One term's postings in one segment: document numbers (ascending) and frequencies."""

    __slots__ = ("docs", "freqs")

    def __init__(self, docs: np.ndarray, freqs: np.ndarray) -> None:
        self.docs = docs
        self.freqs = freqs

    @property
    def nbytes(self) -> int:
        return int(self.docs.nbytes + self.freqs.nbytes)


def decode_blocks(
    blocks: Iterable[tuple[Sequence[int], Any, int]],
) -> Postings:
    """Postings from Whoosh-style blocks of (delta-coded ids, weights, count).

    In each block the first id is absolute and the rest are gaps; weights are a sequence,
    one float for the whole block, or None for all 1.0.
    """
    deltas: list[int] = []
    weights: list[float] = []
    starts: list[int] = []
    for ids, block_weights, count in blocks:
        starts.append(len(deltas))
        deltas.extend(ids)
        if block_weights is None:
            weights.extend([1.0] * count)
        elif isinstance(block_weights, float | int):
            weights.extend([float(block_weights)] * count)
        else:
            weights.extend(block_weights)
    if not deltas:
        return Postings(np.zeros(0, np.int32), np.zeros(0, np.float32))
    running = np.cumsum(np.asarray(deltas, dtype=np.int64))
    # Undo the running sum across block boundaries: each block starts from zero again.
    begin = np.asarray(starts, dtype=np.int64)
    before = np.concatenate(([0], running[begin[1:] - 1]))
    lengths = np.diff(np.concatenate((begin, [len(deltas)])))
    docs = running - np.repeat(before, lengths)
    return Postings(docs.astype(np.int32), np.asarray(weights, dtype=np.float32))


class Accumulator:
    """Scores and matched-term counts for every document of one search."""

    def __init__(self, doc_count: int, avg_length: float) -> None:
        self.scores = np.zeros(doc_count, dtype=np.float64)
        self.counts = np.zeros(doc_count, dtype=np.uint8)
        self.avg_length = avg_length or 1.0

    def add(self, postings: Postings, offset: int, lengths: np.ndarray, idf: float) -> None:
        """Add one term's BM25 contribution from one segment (`offset` = its first doc)."""
        if not len(postings.docs):
            return
        tf = postings.freqs.astype(np.float64)
        norm = K1 * ((1 - B) + B * lengths[postings.docs] / self.avg_length)
        where = postings.docs + offset
        # Each document occurs once in a term's list, so plain fancy-index += is exact.
        self.scores[where] += idf * (tf * (K1 + 1)) / (tf + norm)
        self.counts[where] += 1

    def top(
        self, need_terms: int, allowed: np.ndarray | None, limit: int
    ) -> tuple[list[tuple[int, float]], int]:
        """The best `limit` (docnum, score) with at least `need_terms` terms, and the total."""
        matched = self.counts >= need_terms
        if allowed is not None:
            matched &= allowed
        candidates = np.flatnonzero(matched)
        total = len(candidates)
        if not total or limit <= 0:
            return [], total
        scores = self.scores[candidates]
        if total > limit:
            keep = np.argpartition(-scores, limit - 1)[:limit]
            candidates, scores = candidates[keep], scores[keep]
        order = np.lexsort((candidates, -scores))  # best first; ties by document number
        return [(int(candidates[i]), float(scores[i])) for i in order], total


def lengths_from_bytes(raw: bytes, doc_count: int, table: Sequence[int]) -> np.ndarray:
    """Field lengths from Whoosh's one-byte length encoding (missing docs count as 1)."""
    codes = np.frombuffer(raw, dtype=np.uint8)
    decoded = np.asarray(table, dtype=np.float64)[codes]
    decoded[codes == 0] = 1.0
    if len(decoded) < doc_count:
        decoded = np.concatenate((decoded, np.ones(doc_count - len(decoded))))
    return decoded[:doc_count]


def mask_of(doc_count: int, docnums: Iterable[int]) -> np.ndarray:
    """A boolean array that is True at the given document numbers."""
    mask = np.zeros(doc_count, dtype=bool)
    found = np.fromiter(docnums, dtype=np.int64)
    if len(found):
        mask[found] = True
    return mask
