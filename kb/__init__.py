"""Concierge KB: a community self-help knowledge base with a social concierge in front of it."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Assemble the application: settings, database, search index, web layer, CLI."""
    import kb.notifications as notifications
    import kb.pagecache as pagecache
    from kb import api, auth, cli, concierge, config, db, markup, search, security, views, webhooks

    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder="../static",
        template_folder="../templates",
    )
    config.init_app(app, test_config)
    db.init_app(app)
    markup.init_app(app)
    search.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    concierge.init_app(app)
    pagecache.init_app(app)
    views.init_app(app)
    api.init_app(app)
    webhooks.init_app(app)
    notifications.init_app(app)
    cli.init_app(app)
    return app
