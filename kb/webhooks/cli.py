"""`kb webhooks run|once`: the delivery worker."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from kb.db import create_schema


@click.group("webhooks")
def webhooks_group() -> None:
    """Deliver webhooks."""


@webhooks_group.command("once")
@with_appcontext
def once_command() -> None:
    """Send every delivery that is due now, once, and report."""
    from kb.webhooks.worker import run_once

    create_schema()
    stats = run_once()
    click.echo(
        f"attempted {stats.attempted}, delivered {stats.delivered}, "
        f"retrying {stats.retrying}, failed {stats.failed}"
    )
    for error in stats.errors:
        click.echo(f"  {error}", err=True)


@webhooks_group.command("run")
@click.option("--poll", type=float, default=None, help="Seconds between checks for due rows.")
@with_appcontext
def run_command(poll: float | None) -> None:
    """Deliver webhooks until stopped (Ctrl-C or SIGTERM)."""
    from kb.webhooks.worker import run

    create_schema()
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    seconds = poll if poll is not None else float(current_app.config["WEBHOOK_POLL_SECONDS"])
    click.echo(f"Webhook worker running (checking every {seconds:g}s); Ctrl-C to stop.")
    run(stop, seconds)
    click.echo("Webhook worker stopped.")
