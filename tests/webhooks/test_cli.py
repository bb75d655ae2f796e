"""`kb webhooks once` and `kb webhooks run` (a real process, stopped with SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from kb.db import db
from kb.webhooks.models import WebhookDelivery
from kb.webhooks.operations import send_ping
from tests.conftest import ROOT


def test_once_reports(runner, receiver, make_endpoint, staff):
    send_ping(make_endpoint(receiver.url), staff)
    result = runner.invoke(args=["webhooks", "once"])
    assert result.exit_code == 0, result.output
    assert "attempted 1, delivered 1, retrying 0, failed 0" in result.output
    assert len(receiver.requests) == 1


def test_run_delivers_until_sigterm(app, tmp_path, receiver, make_endpoint, staff):
    send_ping(make_endpoint(receiver.url), staff)
    db.session.remove()
    env = {
        **os.environ,
        "KB_DATABASE_URL": app.config["DATABASE_URL"],
        "KB_INDEX_DIR": str(tmp_path / "index"),
        "KB_SECRET_KEY": "test-secret",
        "KB_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on loopback
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "webhooks", "run", "--poll", "0.1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.requests) == 1
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "Webhook worker running" in output and "Webhook worker stopped." in output
    assert db.session.scalar(select(WebhookDelivery.status)) == "delivered"
