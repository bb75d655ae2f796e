"""Webhook signatures: HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "sha256"
# How far a receiver should let a timestamp drift before refusing a delivery as a replay.
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh endpoint secret (256 random bits, URL-safe text)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: str) -> str:
    """The X-KB-Signature value for a body sent at `timestamp` (unix seconds, as text)."""
    message = f"{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(secret: str, timestamp: str, body: str, signature: str, now: float) -> bool:
    """What a receiver does: a matching signature on a fresh timestamp."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
