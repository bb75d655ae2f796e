"""Create, revoke and check personal API tokens."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from kb.api.models import ApiToken
from kb.db import db
from kb.errors import NotFound, ValidationError
from kb.models import User, utcnow
from kb.validation import clean_text

SCOPES = ("read", "write")
PREFIX = "kbt_"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create_token(user: User, *, name: object, scope: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the secret is returned once and never stored."""
    label = " ".join(clean_text(name).split())[:60]
    if not label:
        raise ValidationError("Give the token a name, like 'status dashboard'.", "name")
    if scope not in SCOPES:
        raise ValidationError("Scope is read or write.", "scope")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=label, token_hash=hash_token(secret), prefix=secret[:10], scope=scope
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def revoke_token(user: User, token_id: int) -> None:
    """Revoke one of the user's tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    if token.revoked is None:
        token.revoked = utcnow()
        db.session.commit()


def tokens_of(user: User) -> list[ApiToken]:
    """A user's tokens, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def authenticate(secret: str) -> ApiToken | None:
    """The live token for a secret, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked is not None:
        return None
    return token
