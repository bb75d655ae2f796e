"""The web layer: one blueprint per area, plus shared helpers for templates."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.routing import BaseConverter, ValidationError

from kb.errors import OperationError


class IdConverter(BaseConverter):
    """A database id: 1 to 18 digits, so absurd numbers are a 404, not an overflow."""

    regex = r"[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        from kb.shortlinks import MAX_DB_ID

        number = int(value)
        if number > MAX_DB_ID:  # beyond an Integer column: no such row (and no SQL error)
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def page_arg() -> int:
    """The ?page= number: 1 for anything odd, 404 past a sane limit."""
    raw = request.args.get("page", "1")
    if not raw.isdigit():
        return 1
    # Past the last page is simply an empty page; cap absurd numbers before they reach SQL.
    return max(1, min(int(raw[:7]), 100_000))


def form_errors(err: OperationError) -> dict[str, str]:
    """A field-to-message mapping for a template."""
    return {err.field or "form": err.message}


def init_app(app: Flask) -> None:
    """Register converters, template helpers and blueprints."""
    from kb.views import articles, concierge, moderation, reuse, search, shortlinks, threads, users

    app.url_map.converters["id"] = IdConverter
    from kb.views.helpers import register_template_helpers

    register_template_helpers(app)
    for module in (threads, articles, search, users, moderation, shortlinks, concierge, reuse):
        app.register_blueprint(module.bp)
    from kb.views import feeds

    app.register_blueprint(feeds.bp)
