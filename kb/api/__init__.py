"""The public JSON API at /api/v1, with personal tokens and an OpenAPI document."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from kb.api.common import CODES, ApiError, error_response, rate_headers
from kb.errors import OperationError


def is_api_request() -> bool:
    """Whether the current request is for the JSON API."""
    return request.path.startswith("/api/")


def api_error(err: Exception) -> Response:
    """Any error on an API path as a JSON error object (never an HTML page, never a trace)."""
    if isinstance(err, ApiError):
        response = error_response(err.status, err.code, err.message, err.field)
    elif isinstance(err, OperationError):
        code = {400: "invalid", 403: "forbidden", 404: "not_found", 409: "conflict"}.get(
            err.status, "error"
        )
        response = error_response(err.status, code, err.message, err.field)
    elif isinstance(err, HTTPException) and err.code:
        message = {
            404: "No such resource.",
            405: "That method is not allowed here.",
            413: "The body is larger than 1 MB.",
        }.get(err.code, err.description or "Request failed.")
        response = error_response(err.code, CODES.get(err.code, "error"), message)
    else:
        response = error_response(500, "server_error", "Something went wrong on our side.")
    return rate_headers(response)


def init_app(app: Flask) -> None:
    """Register the tables, the blueprint (CSRF-exempt: tokens, not cookies)."""
    from kb.api import (
        models,  # noqa: F401  (tables for create_all)
        web,
    )
    from kb.api.tokens import tokens_of
    from kb.api.views import bp
    from kb.security import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(web.bp)
    app.jinja_env.globals["api_tokens_for"] = tokens_of
