"""The Whoosh search backend: the only module that imports whoosh."""

from __future__ import annotations

import fcntl
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import analysis, fields, index, query, scoring
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.util.numeric import byte_to_length
from whoosh.writing import LockError

from kb.lru import ByteLRU
from kb.search import ranking
from kb.search import snippets as snippets_
from kb.search.ranking import Accumulator, Postings
from kb.search.types import SearchDoc, SearchHit, SearchResults

# One weighted text field: a part repeated twice counts twice. Searching one field with a
# few terms lets Whoosh skip whole blocks of postings; five fields per term could not
# (a 12-word tweet took 3.5 s over 100,000 threads). Weights measured with `kb eval` on
# tests/data/dev_queries.jsonl: the question counts as much as its title.
TEXT_REPEATS = {"title": 2, "alt": 2, "body": 2, "tags": 1, "answers": 1}
RERANK_WINDOW = 50
MAX_TERMS = 10  # the rarest query words carry the meaning; more only cost time
POSTING_BUDGET = 20_000  # postings of uncommon words a query reads past its rarest two
CACHE_MIN_POSTINGS = 512  # shorter lists decode faster than they are worth keeping
_LENGTH_TABLE = [byte_to_length(code) for code in range(256)]


def _analyzers() -> tuple[Any, Any]:
    stem = analysis.StemmingAnalyzer(stoplist=analysis.STOP_WORDS, minsize=2, maxsize=40)
    plain = analysis.StandardAnalyzer(stoplist=analysis.STOP_WORDS, minsize=3, maxsize=30)
    return stem, plain


def make_schema() -> fields.Schema:
    """The index layout: one document per thread or article."""
    stem, plain = _analyzers()
    # phrase=False: no word positions. Nothing searches phrases, and positions cost 45% of
    # the indexing time and make every posting list longer to read.
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        kind=fields.ID(stored=True),
        title=fields.TEXT(stored=True, analyzer=stem, phrase=False),  # for the title baseline
        body=fields.STORED,  # snippets are highlighted from the stored text
        text=fields.TEXT(analyzer=stem, phrase=False),
        tags=fields.KEYWORD(stored=True, commas=True, lowercase=True, scorable=True),
        state=fields.ID(stored=True),
        accepted_score=fields.STORED,
        boost=fields.STORED,
        spell=fields.TEXT(analyzer=plain, spelling=True, phrase=False),
    )


def _doc_fields(doc: SearchDoc) -> dict[str, Any]:
    parts = {
        "title": doc.title,
        "alt": doc.alt,
        "body": doc.body,
        "tags": " ".join(t.replace("-", " ") for t in doc.tags),
        "answers": doc.answers,
    }
    text = "\n".join(f"{parts[name]}\n" * times for name, times in TEXT_REPEATS.items())
    return {
        "id": doc.doc_id,
        "kind": doc.kind,
        "title": doc.title,
        "body": doc.body,
        "text": text,
        "tags": ",".join(doc.tags),
        "state": doc.state,
        "accepted_score": doc.accepted_score,
        "boost": doc.boost,
        "spell": f"{doc.title} {doc.alt} {doc.body}",
    }


def _blocks(matcher: Any) -> Iterator[tuple[Any, Any, int]]:
    """A posting list's raw blocks as (delta-coded ids, weights, count).

    Reads whoosh-reloaded 2.7.5's block format directly (the version is pinned): Whoosh's
    own matchers would decode and score one posting at a time. Each block is one zlib'd
    pickle; tests compare the scores with Whoosh's own BM25F.
    """
    while True:
        if matcher._data is None:
            matcher._read_data()
        ids, weights = matcher._data[0], matcher._data[1]
        yield ids, weights, matcher._blocklength
        if matcher._lastblock:
            return
        matcher._goto(matcher._nextoffset)


class WhooshBackend:
    """A Whoosh index in one directory, with a long-lived searcher per thread."""

    def __init__(self, path: str, refresh_seconds: float = 1.0, cache_mb: float = 32.0) -> None:
        self.path = Path(path)
        self.refresh_seconds = refresh_seconds
        # Decoded posting lists of common words, by (segment, term): segments never change
        # once written, so entries stay right until the segment is merged away.
        self._postings: ByteLRU[Postings] = ByteLRU(int(cache_mb * 1024 * 1024))
        self._lengths: dict[str, np.ndarray] = {}
        self._local = threading.local()
        self._ix: Any = None
        self._ix_lock = threading.Lock()
        self._open: set[Any] = set()  # every thread's searcher, so close() can close them all
        self._stem = _analyzers()[0]
        self._stem_word = snippets_.make_stemmer(self._one_stem)

    # ----- opening -----------------------------------------------------------------------

    def _index(self) -> Any:
        with self._ix_lock:
            if self._ix is None:
                self.path.mkdir(parents=True, exist_ok=True)
                # Several processes may open a missing index at once: one creates it.
                with (self.path.parent / f".{self.path.name}.create.lock").open("w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    if index.exists_in(str(self.path)):
                        self._ix = index.open_dir(str(self.path))
                    else:
                        self._ix = index.create_in(str(self.path), make_schema())
            return self._ix

    def _searcher(self) -> Any:
        local = self._local
        now = time.monotonic()
        searcher = getattr(local, "searcher", None)
        if searcher is None:
            searcher = self._index().searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
            with self._ix_lock:
                self._open.add(searcher)
            local.checked = now
        elif now - local.checked >= self.refresh_seconds:
            local.checked = now
            try:
                if not searcher.up_to_date():
                    # A new searcher, not refresh(): whoosh-reloaded's refresh() reuses stale
                    # segment readers (edited, deleted and merged documents stay findable)
                    # and fails on a searcher opened on an empty index.
                    searcher.close()
                    fresh = self._index().searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
                    with self._ix_lock:
                        self._open.discard(searcher)
                        self._open.add(fresh)
                    searcher = fresh
            except (OSError, index.EmptyIndexError):
                self.reset()
                return self._searcher()
        local.searcher = searcher
        return searcher

    def reset(self) -> None:
        """Forget the open index and searcher (after a rebuild or in tests)."""
        self._local = threading.local()
        with self._ix_lock:
            for searcher in self._open:
                searcher.close()
            self._open.clear()
            if self._ix is not None:
                self._ix.close()
            self._ix = None
        self._postings.clear()
        self._lengths.clear()

    # ----- writing -----------------------------------------------------------------------

    def _writer(self, **kwargs: Any) -> Any:
        # compound=False everywhere: Whoosh copies a compound segment into each process's
        # private memory when it opens it (about 170 MB per web worker at 100,000 threads);
        # separate files are read through the shared page cache instead.
        return self._index().writer(timeout=60.0, compound=False, **kwargs)

    def apply(self, upserts: Iterable[SearchDoc], deletes: Iterable[str]) -> None:
        """Add or replace some documents and delete others, in one index commit."""
        writer = self._writer()
        try:
            for doc_id in deletes:
                writer.delete_by_term("id", doc_id)
            for doc in upserts:
                writer.update_document(**_doc_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self._local.checked = 0.0

    def rebuild(self, docs: Iterable[SearchDoc], procs: int = 1) -> int:
        """Build a fresh index from `docs` beside the live one, then swap it in."""
        fresh = self.path.with_name(self.path.name + ".new")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        ix = index.create_in(str(fresh), make_schema())
        count = self._bulk_add(ix, docs, procs)
        ix.close()
        old = self.path.with_name(self.path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        self.reset()
        if self.path.exists():
            os.replace(self.path, old)
        os.replace(fresh, self.path)
        shutil.rmtree(old, ignore_errors=True)
        return count

    def add_many(
        self, docs: Iterable[SearchDoc], replace_ids: Iterable[str], procs: int = 1
    ) -> int:
        """Bulk-add documents (deleting `replace_ids` first), for imports."""
        stale = list(replace_ids)
        if stale:
            self.apply([], stale)
        count = self._bulk_add(self._index(), docs, procs)
        self._local.checked = 0.0
        return count

    @contextmanager
    def bulk_adder(self, procs: int = 1) -> Iterator[Callable[[SearchDoc], None]]:
        """A function that adds new documents, committed together when the block ends.

        For imports that feed documents while they write the database: with procs > 1 the
        indexing runs in Whoosh's own processes at the same time. Nothing is visible until
        the commit; an error cancels every document added in the block.
        """
        with self._bulk_writer(self._index(), procs) as add:
            yield add
        self._local.checked = 0.0

    @staticmethod
    @contextmanager
    def _bulk_writer(ix: Any, procs: int) -> Iterator[Callable[[SearchDoc], None]]:
        if procs > 1:
            writer = ix.writer(
                timeout=60.0, procs=procs, multisegment=True, limitmb=128, compound=False
            )
        else:
            writer = ix.writer(timeout=60.0, limitmb=128, compound=False)
        try:
            yield lambda doc: writer.add_document(**_doc_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    @classmethod
    def _bulk_add(cls, ix: Any, docs: Iterable[SearchDoc], procs: int) -> int:
        count = 0
        with cls._bulk_writer(ix, procs) as add:
            for doc in docs:
                add(doc)
                count += 1
        return count

    # ----- reading -----------------------------------------------------------------------

    def doc_count(self) -> int:
        """How many documents the index holds."""
        return int(self._searcher().doc_count())

    def analyze(self, text: str) -> list[str]:
        """The index terms (stems) a text turns into, in order, without repeats."""
        seen: dict[str, None] = {}
        for token in self._stem(text):
            seen.setdefault(token.text, None)
        return list(seen)

    def _one_stem(self, word: str) -> str | None:
        """The index term of one word, or None for a stop word or a word too short."""
        return next((token.text for token in self._stem(word)), None)

    def _words(self, text: str) -> dict[str, str]:
        """Each index term (stem) of a text, in order, with the lowercased word it came from."""
        words: dict[str, str] = {}
        for token in self._stem(text, keeporiginal=True):
            words.setdefault(token.text, token.original.lower())
        return words

    def _correct(self, searcher: Any, word: str, stem: str) -> tuple[str, int] | None:
        """A term the index knows for a misspelt or oddly stemmed word, as (stem, frequency)."""
        reader = searcher.reader()
        maxdist = 2 if len(word) >= 8 else 1
        # prefix=1: only words with the same first letter. Whoosh otherwise measures the
        # distance to every word in the index (about 35 ms at 100,000 threads); typos
        # rarely hit the first letter, and the dev set scores slightly better this way.
        candidates = set(searcher.suggest("spell", word, limit=2, maxdist=maxdist, prefix=1))
        stems = {s for option in candidates for s in self.analyze(option)[:1]}
        # Near stems too ("dropping" stems to "dropp", the index has "drop"); the shared
        # prefix keeps the lexicon scan short.
        stems |= set(reader.terms_within("text", stem, 1, prefix=2))
        found = [(reader.doc_frequency("text", s), s) for s in stems if s != stem]
        found = [(freq, s) for freq, s in found if freq]
        return (max(found)[1], max(found)[0]) if found else None

    def _plan(self, searcher: Any, text: str) -> list[str]:
        """The query's search terms: typos corrected, unknown words and filler dropped."""
        reader = searcher.reader()
        picked: dict[str, int] = {}
        for stem, word in list(self._words(text).items())[:32]:
            freq = reader.doc_frequency("text", stem)
            if not freq and len(word) >= 4 and word.isalpha():
                fixed = self._correct(searcher, word, stem)
                if fixed:
                    stem, freq = fixed
            if freq:
                picked.setdefault(stem, freq)
        # Rarest first, within a budget of postings to read: the common words left out
        # barely move BM25 (low idf) but would make a big index read most of its postings.
        chosen: list[str] = []
        cost = 0
        for term in sorted(picked, key=picked.__getitem__)[:MAX_TERMS]:
            if len(chosen) >= 2 and cost + picked[term] > POSTING_BUDGET:
                break
            chosen.append(term)
            cost += picked[term]
        return chosen

    def _filter(self, kind: str | None, tag: str | None, state: str | None) -> Any:
        terms = []
        if kind:
            terms.append(query.Term("kind", kind))
        if tag:
            terms.append(query.Term("tags", tag.lower()))
        if state:
            terms.append(query.Term("state", state))
        return query.And(terms) if terms else None

    def _leaves(self, searcher: Any) -> list[tuple[Any, int, str]]:
        """The searcher's segments as (reader, first document number, segment id)."""
        local = self._local
        if getattr(local, "leaves_for", None) is not searcher:
            leaves = [
                (sub.reader(), offset, sub.reader().segment().segment_id())
                for sub, offset in searcher.leaf_searchers()
            ]
            live = {segid for _, _, segid in leaves}
            for gone in set(self._lengths) - live:  # merged away: free its lengths
                self._lengths.pop(gone, None)
            local.leaves_for, local.leaves = searcher, leaves
            local.alive = self._deletions_mask(searcher, leaves)
        return local.leaves

    def _alive(self, searcher: Any) -> np.ndarray | None:
        """False at deleted documents (an update deletes the old copy), or None if none."""
        self._leaves(searcher)
        return self._local.alive

    @staticmethod
    def _deletions_mask(searcher: Any, leaves: list[tuple[Any, int, str]]) -> np.ndarray | None:
        deleted = [(reader, offset) for reader, offset, _ in leaves if reader.has_deletions()]
        if not deleted:
            return None
        alive = np.ones(searcher.doc_count_all(), dtype=bool)
        for reader, offset in deleted:
            alive[np.fromiter(reader.deleted_docs_set, dtype=np.int64) + offset] = False
        return alive

    def _field_lengths(self, reader: Any, segid: str) -> np.ndarray:
        """The `text` length of every document in one segment (decoded once per segment)."""
        lengths = self._lengths.get(segid)
        if lengths is None:
            count = reader.doc_count_all()
            column = reader._perdoc._cached_reader("_text_len", LENGTHS_COLUMN)
            if column is None:
                lengths = np.ones(count)
            else:
                raw = column._dbfile.get(column._basepos, column._count)
                lengths = ranking.lengths_from_bytes(raw, count, _LENGTH_TABLE)
            self._lengths[segid] = lengths
        return lengths

    def _term_postings(self, reader: Any, segid: str, term: str) -> Postings | None:
        """One term's postings in one segment, from the cache or decoded from its blocks."""
        key = (segid, term)
        cached = self._postings.get(key)
        if cached is not None:
            return cached
        if ("text", term) not in reader:
            return None
        matcher = reader.postings("text", term)
        if isinstance(matcher, W3LeafMatcher):
            found = ranking.decode_blocks(_blocks(matcher))
        else:  # a list short enough to be stored inline in the term index
            docs, freqs = [], []
            while matcher.is_active():
                docs.append(matcher.id())
                freqs.append(matcher.weight())
                matcher.next()
            found = Postings(np.asarray(docs, np.int32), np.asarray(freqs, np.float32))
        if len(found.docs) >= CACHE_MIN_POSTINGS:
            self._postings.put(key, found)
        return found

    def _filter_mask(
        self, searcher: Any, kind: str | None, tag: str | None, state: str | None
    ) -> np.ndarray | None:
        """The documents a filter allows, kept with the searcher that computed them."""
        q = self._filter(kind, tag, state)
        if q is None:
            return None
        local = self._local
        if getattr(local, "filters_for", None) is not searcher:
            local.filters_for, local.filters = searcher, {}
        cache: dict[Any, np.ndarray] = local.filters
        key = (kind, tag.lower() if tag else None, state)
        if key not in cache:
            if len(cache) >= 16:  # 100,000 documents make a 100 kB mask: keep a few
                cache.clear()
            cache[key] = ranking.mask_of(searcher.doc_count_all(), searcher.docs_for_query(q))
        return cache[key]

    def _score(self, searcher: Any, terms: list[str]) -> Accumulator:
        """BM25 (Whoosh's BM25F on the one `text` field) of every document for the terms."""
        acc = Accumulator(searcher.doc_count_all(), searcher.avg_field_length("text") or 1.0)
        for term in terms:
            idf = searcher.idf("text", term)
            for reader, offset, segid in self._leaves(searcher):
                found = self._term_postings(reader, segid, term)
                if found is not None:
                    acc.add(found, offset, self._field_lengths(reader, segid), idf)
        return acc

    def search(
        self,
        text: str,
        *,
        kind: str | None = None,
        tag: str | None = None,
        state: str | None = None,
        offset: int = 0,
        limit: int = 20,
        mode: str = "auto",
        snippets: bool = True,
    ) -> SearchResults:
        """Ranked hits for free text: all terms first, then any term; typos are tolerated."""
        searcher = self._searcher()
        terms = self._plan(searcher, text)
        if not terms:
            return SearchResults(hits=[], total=0, terms=[])
        allowed = self._filter_mask(searcher, kind, tag, state)
        alive = self._alive(searcher)
        if alive is not None:
            allowed = alive if allowed is None else allowed & alive
        wanted = max(offset + limit, RERANK_WINDOW)
        acc = self._score(searcher, terms)
        best: list[tuple[int, float]] = []
        total = 0
        if mode in ("auto", "all") and len(terms) > 1:
            best, total = acc.top(len(terms), allowed, wanted)
            if mode == "auto" and len(best) < min(wanted, 10):
                best = []
        if not best and (mode != "all" or len(terms) == 1):
            best, total = acc.top(1, allowed, wanted)
        ranked = sorted(
            (self._hit(searcher.stored_fields(docnum), score) for docnum, score in best),
            key=lambda h: h.score,
            reverse=True,
        )
        page = ranked[offset : offset + limit]
        if snippets:  # only for the hits on this page
            wanted_terms = frozenset(terms)
            for hit in page:
                hit.snippet_html = snippets_.highlight(hit.body_text, wanted_terms, self._stem_word)
        return SearchResults(hits=page, total=max(total, len(ranked)), terms=terms)

    @staticmethod
    def _hit(stored: dict[str, Any], text_score: float) -> SearchHit:
        kind, _, raw_id = stored["id"].partition(":")
        state = stored.get("state", "")
        accepted = int(stored.get("accepted_score") or 0)
        # A bounded blend: quality signals scale relevance; they never replace it.
        boost = 0.0
        if state == "solved":
            boost += 0.25
        elif state == "article":
            boost += 0.3
        if accepted > 0:
            boost += min(0.15, 0.05 * math.log1p(accepted))
        boost += max(-0.1, min(0.1, float(stored.get("boost") or 0.0)))
        body = stored.get("body") or ""
        return SearchHit(
            kind=kind,
            db_id=int(raw_id),
            title=stored.get("title", ""),
            score=text_score * (1.0 + boost),
            text_score=text_score,
            state=state,
            tags=[t for t in (stored.get("tags") or "").split(",") if t],
            body_start=body[:220],
            body_text=body,
        )

    def suggest(self, text: str) -> str | None:
        """A 'did you mean' rewrite of `text` from the index's own words, or None."""
        searcher = self._searcher()
        reader = searcher.reader()
        words = [t.text for t in analysis.SimpleAnalyzer()(text)][:20]
        changed = False
        out: list[str] = []
        for word in words:
            if len(word) < 3 or word.isdigit() or reader.doc_frequency("spell", word):
                out.append(word)
                continue
            maxdist = 2 if len(word) > 5 else 1
            options = searcher.suggest("spell", word, limit=1, maxdist=maxdist, prefix=1)
            if options and options[0] != word:
                out.append(options[0])
                changed = True
            else:
                out.append(word)
        return " ".join(out) if changed else None

    def baseline_search(self, text: str, limit: int = 10) -> list[SearchHit]:
        """Plain BM25 over titles only, any term: the yardstick `kb eval --baseline` reports."""
        searcher = self._searcher()
        terms = self.analyze(text)[:32]
        if not terms:
            return []
        q = query.Or([query.Term("title", t) for t in terms])
        return [self._hit(h.fields(), float(h.score)) for h in searcher.search(q, limit=limit)]

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """Inverse document frequency of each index term: rare words say more."""
        searcher = self._searcher()
        reader = searcher.reader()
        total = max(1, searcher.doc_count())
        weights = {}
        for term in terms:
            freq = reader.doc_frequency("text", term)
            if freq:  # words the index has never seen say nothing about any answer
                weights[term] = math.log(1 + (total - freq + 0.5) / (freq + 0.5))
        return weights

    def iter_ids(self) -> Iterator[str]:
        """Every document id in the index."""
        for stored in self._searcher().all_stored_fields():
            yield stored["id"]

    def close(self) -> None:
        """Release files."""
        self.reset()


__all__ = ["WhooshBackend", "LockError"]
