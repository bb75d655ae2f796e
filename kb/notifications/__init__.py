"""Follows and notifications: on-site notices, a private Atom feed, and the daily digest."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the tables, event subscribers, pages, template helpers and `kb digest`."""
    from kb.notifications import models  # noqa: F401  (tables for create_all)
    from kb.notifications.cli import digest_group
    from kb.notifications.subscribers import subscribe_all
    from kb.notifications.views import bp, register_template_helpers

    subscribe_all()
    app.register_blueprint(bp)
    register_template_helpers(app)
    app.cli.add_command(digest_group)
