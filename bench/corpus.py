"""Generate a realistic Skylark community corpus in the `kb import` JSON Lines format.

    python bench/corpus.py 100000 /tmp/corpus.jsonl [--seed 7]

Every thread has 5 answers; about 60% have an accepted one. Titles are 6-14 words, bodies
60-150, answers 40-120; a few hundred authors; tags from about 45. The same seed always gives
the same file. `make_queries` and `make_tweets` give search queries in the same vocabulary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vocab as V  # noqa: E402

START = datetime(2024, 1, 1, 8, 0)
SPAN_SECONDS = int(timedelta(days=1000).total_seconds())
ANSWERS_PER_THREAD = 5


def words(text: str) -> int:
    """Word count as the targets mean it (whitespace separated)."""
    return len(text.split())


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _short(product: str) -> str:
    for lead in ("my ", "the ", "a ", "two "):
        if product.lower().startswith(lead):
            return product[len(lead) :]
    return product


def _detail(rng: random.Random, topic: dict[str, list[str]]) -> str:
    """One varied sentence of context, with numbers and devices so threads differ."""
    choice = rng.randrange(7)
    if choice == 0:
        return f"I'm on {rng.choice(V.PLANS)} and mostly use a {rng.choice(V.DEVICES)} in the {rng.choice(V.ROOMS)}."
    if choice == 1:
        return f"Speed test on the {rng.choice(V.DEVICES)} says {rng.randint(2, 90)} Mbps down and {rng.randint(1, 30)} up."
    if choice == 2:
        return f"It started after {rng.choice(V.EVENTS)} and has happened {rng.randint(2, 30)} times since."
    if choice == 3:
        return f"The {rng.choice(V.DEVICES)} shows error {rng.choice('EFS')}-{rng.randint(100, 999)} when it happens."
    if choice == 4:
        return f"The {rng.choice(topic['symptom'])} comes back {rng.choice(V.WHEN)}."
    if choice == 5:
        return f"Everything in the {rng.choice(V.ROOMS)} is affected, the {rng.choice(V.DEVICES)} worst of all."
    return rng.choice(V.FILLER)


def make_title(rng: random.Random, topic: dict[str, list[str]]) -> str:
    """A question title of 6-14 words."""
    product, symptom = rng.choice(topic["product"]), rng.choice(topic["symptom"])
    problem, when = rng.choice(topic["problem"]), rng.choice(V.WHEN)
    templates = [
        f"{product} {problem} {when}",
        f"{symptom} on {_short(product)} after {rng.choice(V.EVENTS)}",
        f"Help: {symptom} on {_short(product)}, {rng.choice(V.DEVICES)} can't connect",
        f"{symptom} {when}, tried everything already",
        f"Is anyone else getting {symptom} on {_short(product)} {when}?",
        f"{_short(product)} {problem} in the {rng.choice(V.ROOMS)}",
        f"{rng.choice(V.PLANS)} customer: {_short(product)} {problem}",
    ]
    for _ in range(20):
        title = rng.choice(templates)
        if 6 <= words(title) <= 14:
            return _cap(title)
    return _cap(f"{symptom} on {_short(product)} {when}, please help")


def _fit(
    rng: random.Random, head: list[str], tail: str, lo: int, hi: int, more: Callable[[], str]
) -> str:
    """Join sentences so the text has between lo and hi words."""
    target = rng.randint(lo, hi)
    parts = list(head)
    while words(" ".join(parts + [tail])) < target:
        parts.append(more())
    while words(" ".join(parts + [tail])) > hi and len(parts) > 1:
        parts.pop()
    text = " ".join(p for p in parts + [tail] if p)
    while words(text) < lo:
        text += " " + rng.choice(V.FILLER)
    return text.replace(" \n", "\n").replace("\n ", "\n")


def make_body(rng: random.Random, topic: dict[str, list[str]]) -> str:
    """A question body of 60-150 words, sometimes with a Markdown list."""
    product = rng.choice(topic["product"])
    head = [rng.choice(V.OPENERS),
            f"{_cap(product)} {rng.choice(topic['problem'])} {rng.choice(V.WHEN)}."]  # fmt: skip
    if rng.random() < 0.4:
        tried = rng.sample(topic["fix"], k=min(len(topic["fix"]), rng.randint(2, 3)))
        head.append("\n\nWhat I've tried so far:\n\n" + "\n".join(f"- {t}" for t in tried) + "\n\n")
    body = _fit(rng, head, rng.choice(V.CLOSERS), 60, 150, lambda: _detail(rng, topic))
    if rng.random() < 0.2:
        body = body.replace(_cap(product), f"**{_cap(product)}**", 1)
    return body


def make_answer(rng: random.Random, topic: dict[str, list[str]]) -> str:
    """An answer of 40-120 words: a reason, some steps, a sign-off."""
    head = [rng.choice(V.ANSWER_OPENERS), _cap(f"{rng.choice(V.REASONS)}.")]
    steps = rng.sample(topic["fix"], k=min(len(topic["fix"]), rng.randint(1, 3)))
    if rng.random() < 0.5:
        head.append("\n\n" + "\n".join(f"{i}. {_cap(s)}" for i, s in enumerate(steps, 1)) + "\n\n")
    else:
        head.append(_cap(", then ".join(steps)) + ".")
    extra = rng.sample(V.ANSWER_EXTRA, k=len(V.ANSWER_EXTRA))

    def more() -> str:
        roll = rng.random()
        if roll < 0.15:
            return f"On {rng.choice(V.PLANS)} you should see {rng.randint(60, 900)} Mbps or so on a cable."
        if roll < 0.3:
            return f"Mine went from {rng.randint(2, 40)} to {rng.randint(80, 600)} Mbps after doing that."
        if roll < 0.45:
            return _cap(
                f"{rng.choice(topic['fix'])} if the {rng.choice(topic['symptom'])} comes back."
            )
        if roll < 0.55:
            return f"It took about {rng.randint(2, 20)} minutes for the {rng.choice(V.DEVICES)} to reconnect."
        return extra.pop() if extra else rng.choice(V.FILLER)

    return _fit(rng, head, rng.choice(V.ANSWER_CLOSERS), 40, 120, more)


def make_authors(rng: random.Random, count: int = 400) -> list[str]:
    """Distinct community handles."""
    names = sorted({f"{a}{b}" for a in V.FIRST for b in V.SECOND})
    return rng.sample(names, k=min(count, len(names)))


def make_thread(rng: random.Random, number: int, authors: list[str], weights: list[float]) -> dict:
    """One thread in the import format."""
    topic = rng.choice(V.TOPICS)
    created = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    tags = rng.sample(topic["tags"], k=min(len(topic["tags"]), rng.randint(1, 3)))
    if rng.random() < 0.15:
        tags.append(rng.choice(rng.choice(V.TOPICS)["tags"]))
    answers = []
    when = created
    for _ in range(ANSWERS_PER_THREAD):
        when += timedelta(minutes=rng.randint(5, 2000))
        answers.append({
            "body": make_answer(rng, topic),
            "author": rng.choices(authors, weights)[0],
            "score": rng.choice([0, 0, 0, 1, 1, 2, 3, 5, 8, 13, -1]),
            "accepted": False,
            "created": when.isoformat() + "Z",
        })  # fmt: skip
    if rng.random() < 0.6:
        rng.choice(answers)["accepted"] = True
    return {
        "key": f"bench-{number:07d}",
        "title": make_title(rng, topic),
        "body": make_body(rng, topic),
        "tags": list(dict.fromkeys(tags)),
        "author": rng.choices(authors, weights)[0],
        "created": created.isoformat() + "Z",
        "answers": answers,
    }


def iter_threads(count: int, seed: int = 7) -> Iterator[dict]:
    """`count` threads, always the same for the same seed."""
    rng = random.Random(seed)
    authors = make_authors(rng)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(authors))]  # a few very active people
    for number in range(1, count + 1):
        yield make_thread(rng, number, authors, weights)


def write_corpus(count: int, path: Path, seed: int = 7, progress: bool = True) -> None:
    """Write `count` threads to `path` as JSON Lines."""
    started = time.monotonic()
    with path.open("w", encoding="utf-8") as fh:
        for i, thread in enumerate(iter_threads(count, seed), 1):
            fh.write(json.dumps(thread, ensure_ascii=False) + "\n")
            if progress and (i % 10_000 == 0 or i == count):
                print(f"  corpus: {i:,}/{count:,} threads ({time.monotonic() - started:.0f}s)",
                      file=sys.stderr, flush=True)  # fmt: skip


def _typo(rng: random.Random, text: str) -> str:
    parts = text.split()
    long = [i for i, w in enumerate(parts) if len(w) > 4 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = parts[i]
    j = rng.randrange(1, len(w) - 2)
    parts[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(parts)


def _clean(text: str) -> str:
    return " ".join("".join(c if c.isalnum() or c in " -'" else " " for c in text.lower()).split())


_QUERY_DROP = {"the", "my", "a", "an", "to", "for", "of", "in", "on", "and", "it", "is", "with"}


def make_queries(count: int = 200, seed: int = 11, typo_rate: float = 0.05) -> list[str]:
    """Search-box queries of 3-6 words, as people type them."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        topic = rng.choice(V.TOPICS)
        product = _clean(_short(rng.choice(topic["product"])))
        shape = rng.randrange(4)
        if shape == 0:
            q = f"{product} {rng.choice(topic['symptom'])}"
        elif shape == 1:
            q = f"{rng.choice(topic['symptom'])} {rng.choice(V.WHEN)}"
        elif shape == 2:
            q = f"{product} {rng.choice(topic['problem'])}"
        else:
            q = f"how to {rng.choice(topic['fix'])}"
        parts = [w for w in _clean(q).split() if w not in _QUERY_DROP or shape == 3]
        if len(parts) > 6:  # people drop the little words when a query gets long
            parts = [w for w in parts if w not in _QUERY_DROP and w != "how"]
        parts = parts[:6]
        while len(parts) < 3:
            parts.append(_clean(rng.choice(V.DEVICES)).split()[0])
        text = " ".join(parts)
        out.append(_typo(rng, text) if rng.random() < typo_rate else text)
    return out


def make_tweets(count: int = 200, seed: int = 13) -> list[str]:
    """Natural-language mentions of 8-20 words, as the concierge receives them."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        topic = rng.choice(V.TOPICS)
        product = rng.choice(topic["product"])
        shapes = [
            f"@SkylarkHelps {product} {rng.choice(topic['problem'])} {rng.choice(V.WHEN)}, {rng.choice(V.CLOSERS).lower()}",
            f"@SkylarkHelps {rng.choice(topic['symptom'])} on {_short(product)} again!! {rng.choice(V.WHEN)} and nobody can tell me why",
            f"why does {_short(product)} keep giving me {rng.choice(topic['symptom'])} {rng.choice(V.WHEN)} @SkylarkHelps",
            f"@SkylarkHelps hi, {rng.choice(topic['symptom'])} after {rng.choice(V.EVENTS)}, my {rng.choice(V.DEVICES)} won't work. help please",
        ]
        text = rng.choice(shapes)
        if 8 <= words(text) <= 20:
            out.append(text)
    return out


def main() -> None:
    """Command line: N OUT.jsonl [--seed]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_corpus(args.count, args.out, seed=args.seed)


if __name__ == "__main__":
    main()
