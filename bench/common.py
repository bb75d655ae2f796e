"""Shared helpers for the benchmark scripts: paths, the app environment, percentiles, results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_WORKDIR = Path("/tmp/kb-bench")
DEFAULT_THREADS = 100_000


def python_bin() -> str:
    """The project's venv Python when there is one, else this interpreter."""
    candidate = VENV_BIN / "python"
    return str(candidate) if candidate.exists() else sys.executable


def tool(name: str) -> str:
    """A console script from the venv (kb, gunicorn), else from PATH."""
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else name


def kb_env(workdir: Path) -> dict[str, str]:
    """Environment for the app: a KB database and index of its own under `workdir`."""
    env = dict(os.environ)
    env.update(
        {
            "KB_DATABASE_URL": f"sqlite:///{workdir / 'kb.sqlite3'}",
            "KB_INDEX_DIR": str(workdir / "index"),
            "KB_SECRET_KEY": "bench-not-secret",
            "KB_CONTENT_DIR": str(workdir / "content"),  # no articles: threads only
        }
    )
    return env


def kb_config(workdir: Path) -> dict[str, Any]:
    """The same settings as `kb_env`, as a create_app test mapping (in-process benches)."""
    return {
        "DATABASE_URL": f"sqlite:///{workdir / 'kb.sqlite3'}",
        "INDEX_DIR": str(workdir / "index"),
        "SECRET_KEY": "bench-not-secret",
        "CONTENT_DIR": str(workdir / "content"),
    }


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p95, mean and max of durations, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


def contention(loops: int = 3_000_000) -> float:
    """Wall time over CPU time of a fixed pure-Python loop: 1.0 on an idle core, 3.0 when
    neighbours leave this process a third of a core. Shared machines vary minute to minute."""
    wall, cpu = time.perf_counter(), time.process_time()
    total = 0
    for i in range(loops):
        total += i
    return round((time.perf_counter() - wall) / max(1e-9, time.process_time() - cpu), 2)


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "mem_gib": round(mem_kb / 1024 / 1024),
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "contention": contention(),
    }


def log(message: str) -> None:
    """Progress on stderr, timestamped."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def save_result(workdir: Path, name: str, result: dict[str, Any]) -> Path:
    """Write one benchmark's result as JSON next to its data."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"result-{name}.json"
    result = {"benchmark": name, "machine": machine(), **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
