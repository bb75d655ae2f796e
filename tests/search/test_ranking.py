"""The numpy scorer against Whoosh's own BM25F, the posting cache and the snippet maker.

The backend reads Whoosh's posting blocks itself and scores them with numpy. These tests
open the same index with Whoosh's public search API (the only test module that imports
whoosh) and check that both give the same documents with the same scores, across several
segments, deleted and replaced documents, and lists long enough to span many blocks.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from whoosh import query, scoring

from kb.lru import ByteLRU
from kb.search import ranking, snippets
from kb.search.types import SearchDoc
from kb.search.whoosh_backend import WhooshBackend

WORDS = (
    "router hub wifi amber light bill refund engineer outage remote app password slow "
    "dropping signal mesh booster invoice charge cable fibre upgrade channel box"
).split()


def _doc(rng: random.Random, n: int) -> SearchDoc:
    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    return SearchDoc(
        kind="thread",
        db_id=n,
        title=text(rng.randint(3, 8)),
        body=text(rng.randint(5, 60)),
        answers=text(rng.randint(0, 80)),
        state=rng.choice(["open", "solved"]),
    )


@pytest.fixture
def index(tmp_path):
    """An index of 900 documents in three segments, with 60 replaced and 40 deleted."""
    rng = random.Random(3)
    backend = WhooshBackend(str(tmp_path / "ix"), refresh_seconds=0)
    for start in (0, 300, 600):
        backend.apply([_doc(rng, n) for n in range(start, start + 300)], [])
    backend.apply([_doc(rng, n) for n in range(100, 160)], [f"thread:{n}" for n in range(700, 740)])
    yield backend
    backend.close()


def _whoosh_scores(backend: WhooshBackend, terms: list[str], every: bool) -> dict[int, float]:
    searcher = backend._index().searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
    try:
        clauses = [query.Term("text", t) for t in terms]
        q = query.And(clauses) if every else query.Or(clauses)
        return {
            int(hit["id"].partition(":")[2]): hit.score for hit in searcher.search(q, limit=None)
        }
    finally:
        searcher.close()


@pytest.mark.parametrize(
    ("words", "mode"),
    [
        ("router", "any"),
        ("amber light", "all"),
        ("amber light", "any"),
        ("refund invoice charge engineer", "any"),
        ("mesh booster signal", "all"),
    ],
)
def test_scores_equal_whoosh_bm25f(index, words, mode):
    found = index.search(words, mode=mode, limit=2000, snippets=False)
    expected = _whoosh_scores(index, found.terms, every=mode == "all")

    got = {hit.db_id: hit.text_score for hit in found.hits}
    assert got.keys() == expected.keys()
    assert found.total == len(expected)
    for db_id, score in expected.items():
        assert got[db_id] == pytest.approx(score, rel=1e-5)


def test_deleted_and_replaced_documents_are_not_found_twice(index):
    found = index.search("router hub wifi", mode="any", limit=2000, snippets=False)

    ids = [hit.db_id for hit in found.hits]
    assert len(ids) == len(set(ids))
    assert not set(ids) & set(range(700, 740))


def test_filters_narrow_the_candidates(index):
    found = index.search("router", state="solved", limit=2000, snippets=False)

    assert found.hits and {hit.state for hit in found.hits} == {"solved"}
    assert found.total == len(found.hits)


def test_a_changed_document_is_scored_from_its_new_text(index):
    index.search("zeppelin router", mode="all")  # fills the cache for "router"
    index.apply([SearchDoc(kind="thread", db_id=5, title="zeppelin router", body="zeppelin")], [])

    found = index.search("zeppelin router", mode="all", snippets=False)

    assert [hit.db_id for hit in found.hits] == [5]


def test_decode_blocks_restarts_each_block_from_an_absolute_id():
    blocks = [((3, 2, 5), None, 3), ((20, 1), 2.0, 2), ((40,), (7.0,), 1)]

    got = ranking.decode_blocks(blocks)

    assert got.docs.tolist() == [3, 5, 10, 20, 21, 40]
    assert got.freqs.tolist() == [1.0, 1.0, 1.0, 2.0, 2.0, 7.0]


def test_the_posting_cache_stays_within_its_bytes():
    cache = ByteLRU(max_bytes=10_000)
    lists = {
        n: ranking.Postings(np.arange(250, dtype=np.int32), np.ones(250, np.float32))
        for n in range(10)
    }
    for key, value in lists.items():
        cache.put(key, value)
        cache.get(0)  # used often: stays

    assert cache.used <= 10_000
    assert cache.get(0) is not None and cache.get(1) is None
    cache.put("huge", ranking.Postings(np.arange(5000, dtype=np.int32), np.ones(5000, np.float32)))
    assert cache.get("huge") is None  # bigger than a quarter of the cache: never kept


def _stem(word: str) -> str | None:
    return {"routers": "router", "router": "router", "the": None}.get(word, word)


def test_snippets_mark_every_form_of_a_term_and_escape_the_rest():
    text = "My <b>router</b> & the other routers keep rebooting."

    html = snippets.highlight(text, frozenset({"router"}), _stem)

    assert html == (
        "My &lt;b&gt;<mark>router</mark>&lt;/b&gt; &amp; the other <mark>routers</mark> "
        "keep rebooting."
    )


def test_snippets_pick_the_passages_with_the_most_query_words():
    filler = "nothing to see here " * 40
    text = f"{filler}router once. {filler}router and refund together. {filler}"

    html = snippets.highlight(text, frozenset({"router", "refund"}), _stem)

    assert "<mark>router</mark> and <mark>refund</mark>" in html
    assert len(html) < 700
    assert snippets.highlight(text, frozenset({"absent"}), _stem) == ""
