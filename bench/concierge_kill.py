"""Kill `kb concierge run` at random moments and check every mention is answered exactly once.

    python bench/concierge_kill.py [--mentions 500] [--kills 50] [--threads 100] [--seed 1]

A fresh site in a temporary directory (`kb init`, then `kb import` of a generated corpus), the
X stand-in on a free loopback port with relaxed rate limits and `--latency` seconds per answer,
customer mentions from the corpus vocabulary, autosend on at threshold 0. The worker runs as a
subprocess and is SIGKILLed 0.2-1.5 s after it reports running, `--kills` times; then it runs
until every mention is decided and every approved reply is sent. Exit status 1 if any check
fails.

The helpers here are shared with bench/concierge_drain.py.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import selectors
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

ACCOUNT = "SkylarkHelps"
PUBLIC_BASE_URL = "https://kb.skylark.example"
READY = "Concierge running"
STANDIN_READY = re.compile(r"X stand-in listening on (http://\S+)")
# The stand-in's built-in demo credentials (kb/concierge/demo.py).
X_SETTINGS = {
    "X_API_KEY": "standin-key",
    "X_API_SECRET": "standin-secret",
    "X_ACCESS_TOKEN": "1500000000000000001-standintoken",
    "X_ACCESS_SECRET": "standin-access-secret",
}
RELAXED_LIMITS = {
    "me": 100_000,
    "mentions": 100_000,
    "user_tweets": 100_000,
    "create_tweet": 100_000,
}


def wait_for_line(proc: subprocess.Popen[str], pattern: re.Pattern[str], timeout: float) -> str:
    """Read the process's stdout until a line matches; return the first group (or the line)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = proc.stdout.readline()
                found = pattern.search(line)
                if found:
                    return found.group(1) if pattern.groups else line
                if not line:
                    break
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{proc.args!r} did not print {pattern.pattern!r}")


class Standin:
    """The X stand-in subprocess and its test endpoints."""

    def __init__(self, log: Path) -> None:
        self.log = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kb.concierge.standin", "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=ROOT, env=python_env(),
        )  # fmt: skip
        self.url = wait_for_line(self.proc, STANDIN_READY, 20)
        self.http = requests.Session()

    def post(self, path: str, body: Any) -> Any:
        """POST to a test endpoint."""
        response = self.http.post(f"{self.url}/_standin/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def tweets(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post customer tweets; return them as X shows them."""
        return self.post("tweets", specs)["data"]

    def posted(self) -> list[dict[str, Any]]:
        """What the account has posted."""
        return self.http.get(f"{self.url}/_standin/posted", timeout=30).json()["data"]

    def close(self) -> None:
        """Stop the stand-in."""
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.log.close()


def python_env() -> dict[str, str]:
    """The environment without KB_* settings, with the project importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def site_env(site: Path, x_api_base: str, **settings: str) -> dict[str, str]:
    """`kb` settings for a site in `site` whose concierge talks to the stand-in, autosend on."""
    env = python_env()
    env.update({f"KB_{k}": v for k, v in X_SETTINGS.items()})
    env.update(
        KB_DATABASE_URL=f"sqlite:///{site / 'kb.sqlite3'}", KB_INDEX_DIR=str(site / "index"),
        KB_CONTENT_DIR=str(site / "content"), KB_SECRET_KEY="bench-not-secret",
        KB_PUBLIC_BASE_URL=PUBLIC_BASE_URL, KB_X_API_BASE=x_api_base, KB_X_READ_TIMEOUT="2",
        KB_CONCIERGE_AUTOSEND="1", KB_CONCIERGE_AUTOSEND_THRESHOLD="0.0",
        KB_CONCIERGE_HOURLY_BUDGET="1000000", KB_CONCIERGE_AUTHOR_HOURLY_BUDGET="1000000",
        KB_CONCIERGE_POLL_SECONDS="0.2",
    )  # fmt: skip
    env.update({f"KB_{k}": v for k, v in settings.items()})
    return env


def kb(env: dict[str, str], *args: str) -> str:
    """Run a `kb` command to completion; return its output."""
    done = subprocess.run(
        [sys.executable, "-m", "kb.cli", *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"kb {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def prepare_site(site: Path, env: dict[str, str], threads: int) -> None:
    """`kb init` with no articles, then `kb import` of a generated corpus."""
    (site / "content").mkdir(parents=True, exist_ok=True)
    kb(env, "init")
    path = site / "corpus.jsonl"
    corpus.write_corpus(threads, path, progress=False)
    print("  " + kb(env, "import", str(path)).splitlines()[-1], flush=True)


def mention_specs(count: int, seed: int = 13) -> list[dict[str, Any]]:
    """Customer mentions in the corpus vocabulary, one author each."""
    texts = corpus.make_tweets(count, seed=seed)
    return [{"author": f"cust{i:05d}", "text": text} for i, text in enumerate(texts)]


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """Start `kb concierge run` and wait until it reports running."""
    with log.open("a", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kb.cli", "concierge", "run"], env=env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
    wait_for_line(proc, re.compile(re.escape(READY)), 60)
    return proc


def stop(proc: subprocess.Popen[str], sig: int) -> None:
    """Send `sig` and reap the process."""
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.stdout is not None
    proc.stdout.close()


def progress(db_path: Path) -> dict[str, int]:
    """Mentions stored, still undecided, and replies by state (read without a write lock)."""
    with closing(sqlite3.connect(db_path, timeout=10, isolation_level=None)) as con:
        mentions, new = con.execute(
            "SELECT count(*), coalesce(sum(decision = 'new'), 0) FROM mentions"
        ).fetchone()
        states = dict(con.execute("SELECT state, count(*) FROM replies GROUP BY state"))
    return {"mentions": mentions, "new": new, **states}


def finished(db_path: Path, expected: int) -> bool:
    """Every mention stored and decided; no reply approved or sending."""
    now = progress(db_path)
    return (
        now["mentions"] == expected
        and now["new"] == 0
        and not now.get("approved")
        and not now.get("sending")
    )


def phase(now: dict[str, int]) -> str:
    """What the worker was doing, judged from the database after it was killed."""
    if now["new"]:
        return "while deciding"
    if now.get("approved") or now.get("sending"):
        return "while sending"
    return "when idle"


def verify(db_path: Path, standin: Standin, customer_tweets: list[dict[str, Any]]) -> list[str]:
    """Check exactly-once against the stand-in; return the problems found (empty: all good)."""
    problems: list[str] = []
    posted = standin.posted()
    doubles = {t: n for t, n in Counter(p["in_reply_to_tweet_id"] for p in posted).items() if n > 1}
    if doubles:
        problems.append(f"{len(doubles)} tweets replied to more than once: {doubles}")
    with closing(sqlite3.connect(db_path, timeout=10, isolation_level=None)) as con:
        stored = Counter(t for (t,) in con.execute("SELECT tweet_id FROM mentions"))
        undecided = con.execute("SELECT count(*) FROM mentions WHERE decision = 'new'").fetchone()
        replies = con.execute(
            "SELECT r.id, r.state, r.tweet_id, r.text, m.tweet_id FROM replies r "
            "JOIN mentions m ON m.id = r.mention_id"
        ).fetchall()
    if stored != Counter(t["id"] for t in customer_tweets):
        problems.append("stored mentions differ from the posted ones (lost or duplicated)")
    if undecided[0]:
        problems.append(f"{undecided[0]} mentions never decided")
    pending = Counter(state for _, state, *_ in replies if state in ("approved", "sending"))
    if pending:
        problems.append(f"replies not sent: {dict(pending)}")
    by_id = {p["id"]: p for p in posted}
    sent = [r for r in replies if r[1] == "sent"]
    for reply_id, _, tweet_id, text, mention_tweet in sent:
        on_x = by_id.get(tweet_id or "")
        if on_x is None or on_x["in_reply_to_tweet_id"] != mention_tweet or on_x["text"] != text:
            problems.append(f"reply {reply_id} is recorded as {tweet_id}, which X does not match")
    if {r[2] for r in sent} != set(by_id):
        problems.append("X has posts the database does not record as sent")
    return problems


def main() -> int:
    """Run the kill benchmark; print progress and the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=500)
    parser.add_argument("--kills", type=int, default=50)
    # A small corpus keeps deciding quick, so the kills fall in both the deciding and the
    # sending phases; with thousands of threads nearly every kill lands while deciding.
    parser.add_argument("--threads", type=int, default=100, help="corpus size")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.05, help="X's answer time, seconds")
    parser.add_argument("--min-delay", type=float, default=0.2)
    parser.add_argument("--max-delay", type=float, default=1.5)
    args = parser.parse_args()
    if args.mentions > 800:
        parser.error("X serves only the newest 800 mentions: post at most 800 up front")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    print(f"concierge kill: {args.mentions} mentions, {args.kills} kills, seed {seed}", flush=True)

    with tempfile.TemporaryDirectory(prefix="kb-kill-") as tmp:
        site = Path(tmp)
        standin = Standin(site / "standin.log")
        try:
            env = site_env(site, standin.url)
            started = time.monotonic()
            prepare_site(site, env, args.threads)
            print(f"  site ready in {time.monotonic() - started:.1f}s", flush=True)
            standin.post("limits", RELAXED_LIMITS)
            if args.latency:
                standin.post("faults", {"mode": "slow", "count": 10**9, "delay": args.latency})
            tweets = standin.tweets(mention_specs(args.mentions))
            db_path, log = site / "kb.sqlite3", site / "worker.log"

            started = time.monotonic()
            phases: Counter[str] = Counter()
            for kill in range(1, args.kills + 1):
                proc = start_worker(env, log)
                time.sleep(rng.uniform(args.min_delay, args.max_delay))
                stop(proc, signal.SIGKILL)
                now = progress(db_path)
                phases[phase(now)] += 1
                phases["left a reply 'sending'"] += bool(now.get("sending"))
                if kill % 5 == 0 or kill == args.kills:
                    print(f"  kill {kill:3d}: {now}", flush=True)
            proc = start_worker(env, log)
            try:
                deadline = time.monotonic() + 600
                while not finished(db_path, args.mentions) and time.monotonic() < deadline:
                    time.sleep(0.2)
            finally:
                stop(proc, signal.SIGTERM)
            elapsed = time.monotonic() - started
            final = progress(db_path)
            problems = verify(db_path, standin, tweets)
        finally:
            standin.close()
    print(f"  final: {final}")
    print(f"  kills by phase: {dict(phases)}")
    print(f"  {args.kills} kills and the final run took {elapsed:.1f}s")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    print(
        f"OK: {final['mentions']} mentions stored once and decided; {final.get('sent', 0)} "
        f"replies sent exactly once; no reply left approved or sending."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
