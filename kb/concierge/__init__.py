"""The concierge: an X account that answers mentions with short links into the knowledge base."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the concierge tables and commands."""
    from kb.concierge import models  # noqa: F401  (tables for create_all)
    from kb.concierge.cli import concierge_group
    from kb.concierge.standin import x_standin_command

    app.cli.add_command(concierge_group)
    app.cli.add_command(x_standin_command)
