"""Thread page throughput under gunicorn (2 sync workers) on loopback, and worker memory.

    python bench/web_bench.py [--workdir /tmp/kb-bench] [--duration 20]

Views each of 1,000 different threads once (timed: a first view computes and keeps the
related questions), then loads /t/<id>/<slug> over them with wrk (a Lua script cycles the
paths), then /static/css/site.css as the baseline (the same stack serving a small file: the ratio
page/static cancels machine noise). Falls back to a Python multi-process client when wrk is
missing. Reads VmRSS/VmHWM of the workers after the load. Target: >= 1,500 requests/s and
< 200 MB per worker.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_WORKDIR, kb_config, kb_env, log, save_result, tool  # noqa: E402

TARGET_RPS, TARGET_RSS_MB = 1500.0, 200.0
STATIC = "/static/css/site.css"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def thread_paths(workdir: Path, count: int, seed: int = 5) -> list[str]:
    """Canonical /t/<id>/<slug> paths of `count` random visible threads."""
    from kb.models import slugify

    with sqlite3.connect(workdir / "kb.sqlite3") as conn:
        rows = conn.execute("SELECT id, title FROM threads WHERE hidden = 0").fetchall()
    rng = random.Random(seed)
    picked = rng.sample(rows, k=min(count, len(rows)))
    return [f"/t/{thread_id}/{slugify(title)}" for thread_id, title in picked]


def get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on loopback: status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def create_tables(workdir: Path) -> None:
    """Tables and columns added to the models since the import (as `kb init` adds them)."""
    from kb import create_app
    from kb.db import create_schema, db

    app = create_app(kb_config(workdir))
    with app.app_context():
        create_schema()
        db.engine.dispose()


def start_gunicorn(workdir: Path, port: int, workers: int) -> subprocess.Popen:
    """gunicorn with sync workers on the benchmark database; waits until it answers."""
    cmd = [tool("gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", "kb:create_app()"]  # fmt: skip
    log("starting: " + " ".join(cmd))
    proc = subprocess.Popen(cmd, env=kb_env(workdir), cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited at start")
        try:
            if get(port, STATIC)[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def worker_pids(master: int) -> list[int]:
    """Children of the gunicorn master (its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def with_cpu(pids: list[int], run: Any) -> dict:
    """Run a load and add the workers' CPU milliseconds per request to its result.

    CPU per request does not depend on how busy the shared machine is: 2 workers on 2 idle
    cores can serve about 2,000 / cpu_ms requests/s (less what the load generator needs).
    """
    before = cpu_seconds(pids)
    result = run()
    used = cpu_seconds(pids) - before
    result["worker_cpu_s"] = round(used, 2)
    result["cpu_ms_per_request"] = round(1000 * used / max(1, result["requests"]), 3)
    result["idle_capacity_rps"] = round(len(pids) * 1000 / max(1e-6, result["cpu_ms_per_request"]))
    return result


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":")
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def first_views(port: int, paths: list[str], time_limit: float = 300.0) -> dict:
    """View every path once, one at a time, timing each: what a thread's first view costs.

    The page computes its related questions with a search on a thread's first view and keeps
    them in the database; this pass fills that cache (as production traffic does), so the
    load that follows measures the steady state.
    """
    times = []
    deadline = time.monotonic() + time_limit
    for path in paths:
        if time.monotonic() > deadline:
            log("first views: time limit reached")
            break
        started = time.perf_counter()
        status, _ = get(port, path)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
    ms = sorted(t * 1000 for t in times)
    p50, p95 = ms[len(ms) // 2], ms[max(0, int(len(ms) * 0.95) - 1)]
    log(f"first views: {len(ms)} pages, p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return {"pages": len(ms), "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}


def wrk_lua(paths: list[str], path: Path) -> Path:
    """A wrk script that requests the paths in turn (each wrk thread from its own offset)."""
    items = ",\n".join(f'  "{p}"' for p in paths)
    path.write_text(
        "local paths = {\n" + items + "\n}\n"
        "local i = 0\n"
        "function setup(thread) thread:set('offset', math.random(1, #paths)) end\n"
        "function init(args) i = tonumber(offset) or 0 end\n"
        "function request()\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\n"
        "end\n"
    )
    return path


def run_wrk(port: int, script: Path | None, path: str, duration: int, conns: int) -> dict:
    """requests/s, latency and errors from one wrk run."""
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    log("running: " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, flags=re.M))
    return {
        "tool": "wrk",
        "rps": rps,
        "requests": total,
        "non_2xx_3xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "latency_p50": lat.get("50", ""),
        "latency_p99": lat.get("99", ""),
    }


def _client(
    port: int, paths: list[str], until: float, offset: int, out: multiprocessing.Queue
) -> None:
    done = bad = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = offset
    while time.monotonic() < until and done < 10_000_000:
        i = (i + 1) % len(paths)
        try:
            conn.request("GET", paths[i])
            response = conn.getresponse()
            response.read()
            bad += response.status != 200
        except (OSError, http.client.HTTPException):
            bad += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        done += 1
    out.put((done, bad))


def run_python_client(port: int, paths: list[str], duration: int, conns: int) -> dict:
    """The fallback load generator: `conns` processes with keep-alive connections."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    until = time.monotonic() + duration
    procs = [
        multiprocessing.Process(target=_client, args=(port, paths, until, i * 97, queue))
        for i in range(conns)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [queue.get(timeout=duration + 60) for _ in procs]
    for p in procs:
        p.join(10)
    elapsed = time.monotonic() - started
    total = sum(r[0] for r in results)
    return {"tool": "python", "rps": round(total / elapsed, 1), "requests": total,
            "non_2xx_3xx": sum(r[1] for r in results), "socket_errors": ""}  # fmt: skip


def main() -> dict:
    """Start gunicorn, load the thread page and the static baseline, read worker memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--duration", type=int, default=20, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--paths", type=int, default=1000, help="different threads to request")
    args = parser.parse_args()
    if not (args.workdir / "kb.sqlite3").exists():
        raise SystemExit(f"no database in {args.workdir}: run bench/import_bench.py first")
    args.duration = max(1, min(args.duration, 300))

    create_tables(args.workdir)
    paths = thread_paths(args.workdir, args.paths)
    port = free_port()
    server = start_gunicorn(args.workdir, port, args.workers)
    try:
        for path in paths[:20]:  # every path must be the page itself, not a redirect or error
            status, body = get(port, path)
            if status != 200 or b"<html" not in body.lower():
                raise SystemExit(f"{path} answered {status}")
        page_bytes = len(get(port, paths[0])[1])
        workers = worker_pids(server.pid)
        use_wrk = shutil.which("wrk") is not None
        if use_wrk:
            script = wrk_lua(paths, args.workdir / "thread_paths.lua")
            # Warm both workers and the pages' cached related questions (computed on a
            # thread's first view, as in production), then measure the steady state.
            first = first_views(port, paths)
            run_wrk(port, script, "/", 3, args.connections)
            page = with_cpu(
                workers, lambda: run_wrk(port, script, "/", args.duration, args.connections)
            )
            static = with_cpu(
                workers, lambda: run_wrk(port, None, STATIC, args.duration, args.connections)
            )
        else:
            log("wrk not found: using the Python client (slower; it competes for the 2 cores)")
            first = first_views(port, paths)
            run_python_client(port, paths, 3, args.connections)
            page = with_cpu(
                workers, lambda: run_python_client(port, paths, args.duration, args.connections)
            )
            static = with_cpu(
                workers,
                lambda: run_python_client(port, [STATIC], args.duration, args.connections),
            )
        memory = {str(pid): memory_mb(pid) for pid in workers}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    rss = max((m.get("VmRSS", 0.0) for m in memory.values()), default=0.0)
    result = {
        "command": f"python bench/web_bench.py --duration {args.duration}",
        "server": f"gunicorn -w {args.workers} (sync) 'kb:create_app()' on 127.0.0.1",
        "load": f"{page['tool']} {args.connections} connections, {args.duration}s, "
        f"{len(paths)} different thread pages",
        "page_bytes": page_bytes,
        "first_views": first,
        "thread_page": page,
        "static_baseline": static,
        "ratio_page_to_static": round(page["rps"] / static["rps"], 3),
        "workers_memory_mb": memory,
        "max_worker_rss_mb": rss,
        "pass_rps": page["rps"] >= TARGET_RPS and page["non_2xx_3xx"] == 0,
        "pass_rss": 0 < rss < TARGET_RSS_MB,
        "pass_rps_idle_estimate": page["idle_capacity_rps"] >= TARGET_RPS,
        "cpu_note": f"load generator shares the {os.cpu_count()} cores with the server",
    }
    save_result(args.workdir, "web", result)
    log(
        f"thread page: {page['rps']:.0f} req/s ({page['non_2xx_3xx']} bad), static baseline "
        f"{static['rps']:.0f} req/s, ratio {result['ratio_page_to_static']}; "
        f"{page['cpu_ms_per_request']} ms CPU per page (~{page['idle_capacity_rps']} req/s on "
        f"idle cores); target 1500: "
        f"{'PASS' if result['pass_rps'] else 'FAIL'}; worker RSS max {rss} MB: "
        f"{'PASS' if result['pass_rss'] else 'FAIL'}"
    )
    return result


if __name__ == "__main__":
    main()
