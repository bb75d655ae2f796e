"""CSRF, security headers with a per-request CSP nonce, and error pages."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from kb.errors import OperationError

csrf = CSRFProtect()
log = logging.getLogger(__name__)

ERROR_TITLES = {
    400: "That request didn't work",
    403: "You can't do that",
    404: "Page not found",
    405: "That action isn't available here",
    413: "That was too big",
    429: "Slow down a little",
    500: "Something went wrong on our side",
}


def csp_nonce() -> str:
    """The nonce for this response's inline scripts."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def _headers(response: Response) -> Response:
    nonce = csp_nonce()
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' https: data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def error_page(status: int, message: str | None = None) -> tuple[str, int]:
    """A friendly error page with a search box; never a stack trace."""
    title = ERROR_TITLES.get(status, "Something went wrong")
    return render_template("errors.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    """Turn on CSRF, security headers and error pages."""
    csrf.init_app(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_headers)

    from kb.api import api_error, is_api_request
    from kb.api.common import ApiError

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        return error_page(400, "Your form expired or came from another site. Reload and retry.")

    @app.errorhandler(ApiError)
    def _api(err: ApiError) -> Any:
        return api_error(err)

    @app.errorhandler(OperationError)
    def _operation(err: OperationError) -> Any:
        if is_api_request():
            return api_error(err)
        return error_page(err.status, err.message)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        if err.code is None or err.code < 400:
            return err
        if is_api_request():
            return api_error(err)
        message = None if err.code in (404, 500) else err.description
        return error_page(err.code, message)

    @app.errorhandler(Exception)
    def _crash(err: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return api_error(err)
        return error_page(500)
