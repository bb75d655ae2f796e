"""Time `kb concierge run` draining a burst of mentions: fetch, decide and send them all.

    python bench/concierge_drain.py [--mentions 1000] [--threads 1000]

A fresh site (`kb init`, `kb import` of a generated corpus), the X stand-in with relaxed rate
limits, autosend on at threshold 0, and `kb concierge run` as a subprocess polling every 0.2 s.
The clock starts when the first mention is posted and stops when every mention is stored and
decided and no reply is left approved or sending. Target: 1,000 mentions in 60 s or less.

X serves only the newest 800 mentions, so a backlog larger than that is lost on X too: the
mentions are posted in batches of 100 while fewer than 700 wait to be fetched.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from concierge_kill import (  # noqa: E402
    RELAXED_LIMITS,
    Standin,
    finished,
    mention_specs,
    prepare_site,
    progress,
    site_env,
    start_worker,
    stop,
    verify,
)

TARGET_SECONDS = 60.0


def main() -> int:
    """Run the drain benchmark and print seconds and mentions per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1000, help="corpus size")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=700, help="most mentions left unfetched")
    parser.add_argument("--latency", type=float, default=0.0, help="X's answer time, seconds")
    args = parser.parse_args()
    print(f"concierge drain: {args.mentions} mentions over a {args.threads}-thread corpus")

    with tempfile.TemporaryDirectory(prefix="kb-drain-") as tmp:
        site = Path(tmp)
        standin = Standin(site / "standin.log")
        try:
            env = site_env(site, standin.url)
            prepare_site(site, env, args.threads)
            standin.post("limits", RELAXED_LIMITS)
            if args.latency:
                standin.post("faults", {"mode": "slow", "count": 10**9, "delay": args.latency})
            specs = mention_specs(args.mentions)
            db_path = site / "kb.sqlite3"
            proc = start_worker(env, site / "worker.log")
            try:
                started = time.monotonic()
                tweets: list[dict] = []
                while len(tweets) < len(specs):
                    if len(tweets) - progress(db_path)["mentions"] < args.backlog:
                        tweets += standin.tweets(specs[len(tweets) : len(tweets) + args.batch])
                    else:
                        time.sleep(0.05)
                posted_in = time.monotonic() - started
                deadline = time.monotonic() + 900
                while not finished(db_path, args.mentions) and time.monotonic() < deadline:
                    time.sleep(0.05)
                elapsed = time.monotonic() - started
            finally:
                stop(proc, signal.SIGTERM)
            final = progress(db_path)
            problems = verify(db_path, standin, tweets)
        finally:
            standin.close()

    print(f"  posted all {len(tweets)} mentions within {posted_in:.1f}s")
    print(f"  final: {final}")
    print(
        f"  drained {args.mentions} mentions in {elapsed:.1f}s: {args.mentions / elapsed:.1f} "
        f"mentions/s, {final.get('sent', 0) / elapsed:.1f} replies sent/s "
        f"(target <= {TARGET_SECONDS:.0f}s: {'met' if elapsed <= TARGET_SECONDS else 'MISSED'})"
    )
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
