"""Profile the thread page in-process (Flask test client + cProfile) to find hot spots.

    python bench/profile_page.py [--workdir /tmp/kb-bench] [--requests 200] [--sort tottime]

Requests /t/<id>/<slug> for different threads as an anonymous reader, like the web benchmark,
and prints the functions that take the time. No extra tools needed (py-spy and pyinstrument
are not project dependencies).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_WORKDIR, kb_config, log  # noqa: E402
from web_bench import create_tables, thread_paths  # noqa: E402


def main() -> None:
    """Warm up, then profile `--requests` thread pages and print the top functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    requests = max(1, min(args.requests, 5000))

    from kb import create_app

    create_tables(args.workdir)
    app = create_app(kb_config(args.workdir))
    client = app.test_client()
    paths = thread_paths(args.workdir, requests)
    for path in paths[:10]:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    profile = cProfile.Profile()
    started, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    for i in range(requests):
        client.get(paths[i % len(paths)])
    profile.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    log(
        f"{requests} thread pages: {1000 * cpu / requests:.2f} ms CPU each under the profiler "
        f"({1000 * wall / requests:.2f} ms wall)"
    )
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
