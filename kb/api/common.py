"""The API's plumbing: error objects, token identity, rate limits, JSON bodies, cursors."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app, g, jsonify, request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from kb.api.tokens import authenticate
from kb.models import utcnow

LIMITS = {"read": 600, "write": 60}  # requests per minute per token (or per address)
WINDOW = 60


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "field"}}."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    """A consistent error object with the right status code."""
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    return response


CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "rate_limited", 500: "server_error",
}  # fmt: skip


# ----- identity -------------------------------------------------------------------------------


def identify() -> None:
    """Read the Bearer token, if any; a bad or revoked token is an error, never anonymous."""
    g.api_token = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "invalid_token", "Use 'Authorization: Bearer <token>'.")
    token = authenticate(secret.strip())
    if token is None:
        raise ApiError(401, "invalid_token", "This token is not valid or has been revoked.")
    g.api_token = token
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # Only writers record use: a GET must not turn its read into a write (SQLite WAL
        # cannot upgrade a stale read snapshot, so that would fail with "database is locked").
        token.last_used = utcnow()


def acting_user(scope: str = "write") -> Any:
    """The token's user, for writes: a write-scoped token is required."""
    token = g.get("api_token")
    if token is None:
        raise ApiError(401, "unauthorized", "Writing needs a personal API token (settings page).")
    if scope == "write" and token.scope != "write":
        raise ApiError(403, "insufficient_scope", "This token is read-only.")
    return token.user


# ----- rate limits ----------------------------------------------------------------------------

_lock = threading.Lock()


def rate_limit() -> None:
    """Fixed one-minute windows per token (or address), separately for reads and writes."""
    kind = "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"
    token = g.get("api_token")
    who = f"t{token.id}" if token is not None else f"a{request.remote_addr}"
    window = int(time.time()) // WINDOW
    limit = int(current_app.config.get("API_RATE_LIMITS", LIMITS)[kind])
    # Per process and per app: with N workers the effective limit is up to N times this.
    _counts: dict[tuple[str, str, int], int] = current_app.extensions.setdefault("kb_api_rate", {})
    with _lock:
        if len(_counts) > 50_000:
            for key in [k for k in _counts if k[2] < window]:
                del _counts[key]
        used = _counts.get((who, kind, window), 0) + 1
        _counts[(who, kind, window)] = used
    g.rate = (limit, max(0, limit - used), WINDOW - int(time.time()) % WINDOW)
    if used > limit:
        raise ApiError(429, "rate_limited", f"Limit of {limit} {kind} requests a minute reached.")


def rate_headers(response: Response) -> Response:
    """RateLimit-* headers on every API response."""
    rate = g.get("rate")
    if rate:
        response.headers["RateLimit-Limit"] = str(rate[0])
        response.headers["RateLimit-Remaining"] = str(rate[1])
        response.headers["RateLimit-Reset"] = str(rate[2])
        if response.status_code == 429:
            response.headers["Retry-After"] = str(rate[2])
    return response


# ----- request bodies -------------------------------------------------------------------------


def json_body(fields: dict[str, tuple[type | tuple[type, ...], bool]]) -> dict[str, Any]:
    """The JSON object body, checked: required fields, types, and no unknown fields."""
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send a JSON body (Content-Type: application/json)."
        )
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "The body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    for name in data:
        if name not in fields:
            raise ApiError(400, "unknown_field", f"Unknown field '{name[:40]}'.", str(name)[:40])
    for name, (types, required) in fields.items():
        if name not in data:
            if required:
                raise ApiError(400, "missing_field", f"'{name}' is required.", name)
            continue
        value = data[name]
        if isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)
        ):
            raise ApiError(400, "invalid_type", f"'{name}' has the wrong type.", name)
        if not isinstance(value, types):
            raise ApiError(400, "invalid_type", f"'{name}' has the wrong type.", name)
    return data


# ----- cursors --------------------------------------------------------------------------------


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kb-api-cursor")


def make_cursor(state: dict[str, Any]) -> str:
    """An opaque, signed cursor for the next page."""
    return str(_signer().dumps(state))


def read_cursor(raw: str | None, kind: str) -> dict[str, Any] | None:
    """The state in a cursor; a tampered or foreign cursor is a 400."""
    if not raw:
        return None
    try:
        state = _signer().loads(raw[:2000])
    except BadSignature:
        raise ApiError(400, "invalid_cursor", "This cursor is not valid.", "cursor") from None
    if not isinstance(state, dict) or state.get("k") != kind:
        raise ApiError(400, "invalid_cursor", "This cursor belongs to another list.", "cursor")
    return state


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """A bounded integer query argument."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 6 or not low <= int(raw) <= high:
        raise ApiError(
            400, "invalid_parameter", f"'{name}' must be a whole number from {low} to {high}.", name
        )
    return int(raw)


def choice_arg(name: str, options: tuple[str, ...], default: str | None = None) -> str | None:
    """A query argument from a fixed set."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in options:
        raise ApiError(
            400, "invalid_parameter", f"'{name}' must be one of: {', '.join(options)}.", name
        )
    return raw
