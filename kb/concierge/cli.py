"""`kb concierge run|once` and the stand-in command."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from kb.db import create_schema


@click.group("concierge")
def concierge_group() -> None:
    """Run the X concierge."""


def _check_settings() -> None:
    config = current_app.config
    missing = [
        k
        for k in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_SECRET")
        if not config[k]
    ]
    if missing:
        names = ", ".join(f"KB_{k}" for k in missing)
        raise click.ClickException(f"Set {names} (see README: 'Pointing the concierge at X').")


@concierge_group.command("once")
@with_appcontext
def once_command() -> None:
    """One pass: reconcile, fetch mentions, decide, send approved replies."""
    from kb.concierge.worker import Worker, gateway_from_config

    _check_settings()
    create_schema()
    with gateway_from_config(current_app.config) as gateway:
        stats = Worker(gateway).once()
    click.echo(
        f"fetched {stats.fetched}, decided {stats.decided}, sent {stats.sent}, "
        f"reconciled {stats.reconciled}"
    )
    for error in stats.errors:
        click.echo(f"  {error}", err=True)


@concierge_group.command("run")
@with_appcontext
def run_command() -> None:
    """Poll and answer until stopped (Ctrl-C or SIGTERM)."""
    from kb.concierge.worker import Worker, gateway_from_config

    _check_settings()
    create_schema()
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    poll = float(current_app.config["CONCIERGE_POLL_SECONDS"])
    click.echo(f"Concierge running (polling every {poll:g}s); Ctrl-C to stop.")
    with gateway_from_config(current_app.config) as gateway:
        Worker(gateway).run(stop, poll)
    click.echo("Concierge stopped.")
