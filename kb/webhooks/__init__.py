"""Signed webhooks: staff register endpoints; events reach them through an outbox and a worker."""

from __future__ import annotations

from flask import Flask

DEFAULTS = {
    "WEBHOOK_CONNECT_TIMEOUT": 5.0,
    "WEBHOOK_READ_TIMEOUT": 10.0,
    "WEBHOOK_POLL_SECONDS": 2.0,
    "WEBHOOK_ALLOW_PRIVATE": False,  # see kb/webhooks/destinations.py
}


def init_app(app: Flask) -> None:
    """Register the tables, the outbox subscriber, the staff pages and `kb webhooks`."""
    from kb import events
    from kb.views import IdConverter
    from kb.webhooks import models  # noqa: F401  (tables for create_all)
    from kb.webhooks.cli import webhooks_group
    from kb.webhooks.outbox import WEBHOOK_EVENTS, enqueue
    from kb.webhooks.views import bp

    # The blueprint's routes use the <id:...> converter, whichever order init_app runs in.
    app.url_map.converters.setdefault("id", IdConverter)
    for key, value in DEFAULTS.items():  # defaults only: kb.cfg and KB_* settings win
        app.config.setdefault(key, value)
    for name in WEBHOOK_EVENTS:
        events.subscribe(name, enqueue)
    app.register_blueprint(bp)
    app.cli.add_command(webhooks_group)
