"""A bounded schemathesis run against a live `kb serve` on loopback: no server errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.browser.conftest import ROOT

KB = [sys.executable, "-m", "kb.cli"]


def _token(env: dict[str, str]) -> str:
    script = (
        "from kb import create_app\n"
        "from kb.api.tokens import create_token\n"
        "from kb.users import create_user\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    u = create_user('fuzzer', email='fuzz@example.com', password='fuzzing-pass')\n"
        "    print(create_token(u, name='fuzz', scope='write')[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_schemathesis_finds_no_server_errors(live_server: dict[str, Any], tmp_path: Path) -> None:
    # The server runs with the default rate limits: fuzzing also exercises the 429 path.
    env = live_server["env"]
    data = tmp_path / "seed.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(
                {"key": f"f-{i}", "title": f"Hub 3 amber light question {i}",
                 "body": "The light on the hub turned amber and nothing connects.", "tags": ["hub-3"],
                 "author": "kim", "answers": [{"body": "Restart it.", "author": "raj", "score": i,
                                               "accepted": i % 2 == 0}]}
            )
            for i in range(5)
        )
    )  # fmt: skip
    imported = subprocess.run(
        [*KB, "import", str(data)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stdout[-2000:] + imported.stderr[-4000:]
    token = _token(env)
    st = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    run = subprocess.run(
        [
            st, "run", f"{live_server['url']}/api/v1/openapi.json",
            "--url", f"{live_server['url']}/api/v1",
            "--checks", "not_a_server_error",
            "--max-examples", os.environ.get("KB_FUZZ_EXAMPLES", "25"),
            "--header", f"Authorization: Bearer {token}",
            "--request-timeout", "10", "--seed", "1",
        ],
        env={**env, "SCHEMATHESIS_HOOKS": ""}, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
