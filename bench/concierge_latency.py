"""Triage, matching and composing per mention on a big knowledge base (target: p95 <= 30 ms).

Runs the concierge's pure steps and its matcher on 200 generated mentions, in one process with
the long-lived searcher, without touching X or writing anything.

    python bench/concierge_latency.py --workdir /tmp/kb-bench   # after import_bench.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    """Measure and print p50/p95 per mention."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kb-bench"))
    parser.add_argument("--mentions", type=int, default=200)
    args = parser.parse_args()
    os.environ["KB_DATABASE_URL"] = f"sqlite:///{args.workdir / 'kb.sqlite3'}"
    os.environ["KB_INDEX_DIR"] = str(args.workdir / "index")
    os.environ.setdefault("KB_PUBLIC_BASE_URL", "https://kb.skylark.com")

    import corpus

    from kb import create_app
    from kb.concierge import triage
    from kb.concierge.compose import compose_reply
    from kb.concierge.matching import clean, match_mention
    from kb.db import db, reading

    app = create_app()
    tweets = corpus.make_tweets(args.mentions, seed=21)
    times: list[float] = []
    answered = 0
    with app.app_context(), reading():
        match_mention(clean("warm up the searcher", "SkylarkHelps"))
        for i, text in enumerate(tweets):
            started = time.perf_counter()
            cleaned = clean(text, "SkylarkHelps")
            facts = triage.MentionFacts(
                text=text, author_id=str(1000 + i), author_username=f"customer{i}",
                account_id="1", account_username="SkylarkHelps", is_repost=False,
            )  # fmt: skip
            decision = triage.triage(
                facts, suppressed=set(), replied_conversations=set(), cleaned_text=cleaned
            )
            if decision.kind == triage.HELP:
                result = match_mention(cleaned)
                topic = result.hit["title"] if result.hit else cleaned[:100]
                kind = "answer" if result.hit else "ask_community"
                answered += bool(result.hit)
                compose_reply(
                    handle=f"customer{i}", kind=kind, topic=topic,
                    url="https://kb.skylark.com/s/cAbCdEfG", seed=i,
                )  # fmt: skip
            times.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    times.sort()
    p50 = statistics.median(times)
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"{len(times)} mentions: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms; "
        f"{answered} matched above the threshold; target p95 <= 30 ms: "
        f"{'PASS' if p95 <= 30 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
