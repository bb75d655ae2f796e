"""Run every benchmark in order and print one summary.

    python bench/run_all.py [--threads 100000] [--workdir /tmp/kb-bench] [--skip-import]

corpus + import (bench/import_bench.py), then search (bench/search_bench.py), then the thread
page under gunicorn (bench/web_bench.py). Each step is its own process, so a step's memory
and open index do not disturb the next; each step shows its own progress on stderr and saves
result-<name>.json in the work directory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_THREADS, DEFAULT_WORKDIR, log, python_bin  # noqa: E402

HERE = Path(__file__).resolve().parent


def step(script: str, *args: str, timeout: float) -> None:
    """Run one benchmark script; stop everything if it fails."""
    cmd = [python_bin(), str(HERE / script), *args]
    log("step: " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, timeout=timeout)


def load(workdir: Path, name: str) -> dict:
    """A saved result, or {} when that step did not run."""
    path = workdir / f"result-{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def verdict(ok: object) -> str:
    """PASS / FAIL / - for a result flag."""
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def summary(workdir: Path) -> str:
    """The results as a small Markdown table (what docs/benchmarks.md records)."""
    imp, srch, web = load(workdir, "import"), load(workdir, "search"), load(workdir, "web")
    rows = ["| target | result | target | pass | baseline ratio |", "|---|---|---|---|---|"]
    if imp:
        rows.append(
            f"| import {imp['threads']:,} threads | {imp['wall_s']:.0f} s wall, {imp['cpu_s']:.0f} s "
            f"CPU, {imp['rows_per_s']:,.0f} rows/s | <= {imp['target_s']:.0f} s | "
            f"{verdict(imp['pass'])} | {imp['ratio_to_baseline']}x json.loads of the file |"
        )
    if srch:
        s, c, m = srch["site"], srch["cpu"]["site"], srch["match"]
        rows.append(
            f"| run_search (200 queries) | p50 {s['p50_ms']} / p95 {s['p95_ms']} ms wall; "
            f"CPU p50 {c['p50_ms']} / p95 {c['p95_ms']} ms | p50 <= 15, p95 <= 50 ms | "
            f"{verdict(srch['pass_site'])} (CPU: {verdict(srch['pass_site_cpu'])}) | "
            f"p50 {srch['ratio_p50_site_to_baseline']}x plain Whoosh OR |"
        )
        mc = srch["cpu"]["match"]
        rows.append(
            f"| match (200 mentions) | p50 {m['p50_ms']} / p95 {m['p95_ms']} ms wall; CPU p50 "
            f"{mc['p50_ms']} / p95 {mc['p95_ms']} ms | p95 < 30 ms (whole mention) | "
            f"{verdict(srch['pass_match'])} (CPU: {verdict(srch['pass_match_cpu'])}) | "
            f"p95 {srch['ratio_p95_match_to_baseline']}x plain Whoosh OR |"
        )
    if web:
        p, st = web["thread_page"], web["static_baseline"]
        rows.append(
            f"| thread page, gunicorn -w 2 | {p['rps']:,.0f} req/s ({p['cpu_ms_per_request']} ms "
            f"CPU/page, ~{p['idle_capacity_rps']:,} req/s on idle cores) | >= 1,500 req/s | "
            f"{verdict(web['pass_rps'])} (idle estimate: {verdict(web['pass_rps_idle_estimate'])}) "
            f"| {web['ratio_page_to_static']}x static site.css ({st['rps']:,.0f} req/s) |"
        )
        rows.append(
            f"| web worker memory | {web['max_worker_rss_mb']} MB RSS | < 200 MB | "
            f"{verdict(web['pass_rss'])} | - |"
        )
    return "\n".join(rows)


def main() -> None:
    """Run the steps (bounded in time) and print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--skip-import", action="store_true", help="reuse the imported database")
    parser.add_argument("--duration", type=int, default=20, help="seconds per web load run")
    args = parser.parse_args()
    started = time.monotonic()
    work = ["--workdir", str(args.workdir)]
    if not args.skip_import:
        step("import_bench.py", "--threads", str(args.threads), *work, timeout=3 * 3600)
    step("search_bench.py", *work, timeout=1800)
    step("web_bench.py", *work, "--duration", str(args.duration), timeout=900)
    log(f"all benchmarks done in {time.monotonic() - started:.0f}s")
    print(summary(args.workdir))


if __name__ == "__main__":
    main()
