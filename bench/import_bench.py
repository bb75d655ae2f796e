"""Time `kb import` of a generated corpus into a fresh database and search index.

    python bench/import_bench.py --threads 100000 [--workdir /tmp/kb-bench]

Target: 100,000 threads (5 answers each) in at most 8 minutes, index included. The baseline
for the ratio is a plain read-and-json.loads of the same file in this process (one core of
pure Python): import seconds / baseline seconds says how the import scales with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_THREADS, DEFAULT_WORKDIR, kb_env, log, save_result, tool  # noqa: E402
from corpus import ANSWERS_PER_THREAD, write_corpus  # noqa: E402

TARGET_SECONDS = 8 * 60


def corpus_path(workdir: Path, threads: int, seed: int) -> Path:
    """Where the corpus for this size and seed lives (reused when present)."""
    return workdir / f"corpus-{threads}-seed{seed}.jsonl"


def ensure_corpus(workdir: Path, threads: int, seed: int) -> Path:
    """Generate the corpus unless an identical one is already there."""
    path = corpus_path(workdir, threads, seed)
    if path.exists():
        log(f"reusing {path}")
        return path
    log(f"generating {threads:,} threads into {path}")
    partial = path.with_suffix(".partial")
    write_corpus(threads, partial, seed=seed)
    os.replace(partial, path)
    return path


def parse_baseline(path: Path) -> float:
    """Seconds to read and json.loads every line once: the machine-speed reference."""
    started = time.perf_counter()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            json.loads(line)
    return time.perf_counter() - started


def _report_progress(workdir: Path, started: float, done: threading.Event) -> None:
    """Every 20 s, how many threads the database holds (kb import's bar needs a terminal)."""
    db_path = workdir / "kb.sqlite3"
    while not done.wait(20):
        try:
            with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as conn:
                count = conn.execute("SELECT count(*) FROM threads").fetchone()[0]
        except sqlite3.Error:
            count = "?"
        log(f"  import: {count} threads written after {time.perf_counter() - started:.0f}s")


def run_import(path: Path, workdir: Path, procs: int, timeout: float) -> dict[str, float | str]:
    """Run `kb import` in a subprocess against a fresh database; wall and CPU seconds."""
    for name in ("kb.sqlite3", "kb.sqlite3-wal", "kb.sqlite3-shm"):
        (workdir / name).unlink(missing_ok=True)
    shutil.rmtree(workdir / "index", ignore_errors=True)
    shutil.rmtree(workdir / "index.new", ignore_errors=True)
    (workdir / "content").mkdir(exist_ok=True)
    cmd = [tool("kb"), "import", str(path), "--procs", str(procs)]
    log("running: " + " ".join(cmd))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = threading.Event()
    watcher = threading.Thread(target=_report_progress, args=(workdir, started, done), daemon=True)
    watcher.start()
    try:
        proc = subprocess.run(
            cmd, env=kb_env(workdir), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, timeout=timeout,
        )  # fmt: skip
    finally:
        done.set()
        watcher.join(5)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(proc.stdout.strip(), file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"kb import failed with exit code {proc.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "output": proc.stdout.strip()}


def main() -> dict:
    """Generate (or reuse) the corpus, import it, report wall time and rows/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600, help="give up after (s)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    path = ensure_corpus(args.workdir, args.threads, args.seed)
    baseline = parse_baseline(path)
    log(f"baseline: json.loads of the file in {baseline:.1f}s")
    timing = run_import(path, args.workdir, args.procs, args.timeout)
    baseline_after = parse_baseline(path)
    baseline = min(baseline, baseline_after)  # the less disturbed of the two
    wall = float(timing["wall_s"])
    rows = args.threads * (1 + ANSWERS_PER_THREAD)
    target = TARGET_SECONDS * args.threads / 100_000
    result = {
        "threads": args.threads,
        "rows": rows,
        "command": f"python bench/import_bench.py --threads {args.threads}",
        "wall_s": wall,
        "cpu_s": timing["cpu_s"],
        "threads_per_s": round(args.threads / wall, 1),
        "rows_per_s": round(rows / wall, 1),
        "baseline_parse_s": round(baseline, 2),
        "ratio_to_baseline": round(wall / baseline, 1),
        "target_s": target,
        "pass": wall <= target,
        "kb_output": timing["output"],
    }
    save_result(args.workdir, "import", result)
    log(
        f"import of {args.threads:,} threads: {wall:.1f}s wall ({result['threads_per_s']} "
        f"threads/s, {result['rows_per_s']} rows/s), target {target:.0f}s: "
        f"{'PASS' if result['pass'] else 'FAIL'}; {result['ratio_to_baseline']}x the parse baseline"
    )
    return result


if __name__ == "__main__":
    main()
