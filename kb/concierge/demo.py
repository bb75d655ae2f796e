"""The concierge demo: a local X stand-in seeded with customer tweets, and the worker."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import requests
from flask import Flask
from sqlalchemy import delete

from kb.concierge.models import (
    Click,
    ConciergeState,
    LinkSuggestion,
    Mention,
    Reply,
    ShortLink,
    Suppression,
)
from kb.db import db
from kb.demo import demo_tweets_path

# The stand-in's built-in demo credentials (not secrets: they only open the local stand-in).
DEMO_SETTINGS = {
    "X_API_KEY": "standin-key",
    "X_API_SECRET": "standin-secret",
    "X_ACCESS_TOKEN": "1500000000000000001-standintoken",
    "X_ACCESS_SECRET": "standin-access-secret",
}


def reset_concierge() -> None:
    """Forget all concierge data (the demo starts a fresh stand-in each time)."""
    for model in (Click, LinkSuggestion, Reply, ShortLink, Suppression, ConciergeState, Mention):
        db.session.execute(delete(model))
    db.session.commit()


def start_standin(port: int) -> subprocess.Popen[Any]:
    """Start the seeded stand-in on loopback and wait until it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.concierge.standin", "--port", str(port),
         "--seed", str(demo_tweets_path())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/_standin/health"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the X stand-in did not start on port {port}")


def start_demo(app: Flask, port: int = 8787) -> tuple[subprocess.Popen[Any], threading.Event]:
    """Stand-in + one concierge pass now (drafts on the first visit) + the worker thread."""
    from kb.concierge.worker import Worker, gateway_from_config, start_thread

    proc = start_standin(port)
    app.config.update(DEMO_SETTINGS, X_API_BASE=f"http://127.0.0.1:{port}")
    with app.app_context():
        reset_concierge()
        with gateway_from_config(app.config) as gateway:
            stats = Worker(gateway).once()
        print(f"Concierge demo: {stats.fetched} mentions fetched, {stats.decided} decided.")
    stop = threading.Event()
    start_thread(app, stop)
    return proc, stop
