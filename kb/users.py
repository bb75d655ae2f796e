"""Account operations: create, register, authenticate, change password, end sessions."""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from kb.db import atomic, db
from kb.errors import PermissionDenied, ValidationError
from kb.models import ROLES, User
from kb.validation import check_email, check_name, check_password

_DUMMY_HASH: dict[str, str] = {}


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_METHOD"])


@atomic
def create_user(
    name: object,
    *,
    email: object,
    password: object | None,
    role: str = "member",
    about: str = "",
) -> User:
    """Create an account; `password=None` makes one that cannot log in (imported authors)."""
    name_s, email_s = check_name(name), check_email(email)
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.", "role")
    password_hash = _hash(check_password(password)) if password is not None else None
    if db.session.scalar(select(User.id).where(func.lower(User.name) == name_s)):
        raise ValidationError("That name is taken.", "name")
    if db.session.scalar(select(User.id).where(User.email == email_s)):
        raise ValidationError("An account with that email already exists.", "email")
    user = User(
        name=name_s,
        email=email_s,
        password_hash=password_hash,
        role=role,
        about=about,
        session_token=secrets.token_hex(16),
    )
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(name_or_email: object, password: object) -> User | None:
    """The user for these credentials, or None; as slow for unknown accounts as for known."""
    ident = name_or_email.strip().lower() if isinstance(name_or_email, str) else ""
    secret = password if isinstance(password, str) else ""
    user = None
    if ident and len(ident) <= 254:
        user = db.session.scalar(select(User).where((User.name == ident) | (User.email == ident)))
    if user is None or not user.password_hash:
        # Spend the same work on a dummy hash so timing does not reveal unknown accounts.
        method = current_app.config["PASSWORD_METHOD"]
        if method not in _DUMMY_HASH:
            _DUMMY_HASH[method] = _hash(secrets.token_hex(8))
        check_password_hash(_DUMMY_HASH[method], secret)
        return None
    if not check_password_hash(user.password_hash, secret):
        return None
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of this user on the server side."""
    user.session_token = secrets.token_hex(16)
    db.session.commit()


@atomic
def change_password(user: User, *, current: object, new: object) -> None:
    """Change a password after checking the current one; ends the other sessions."""
    if not user.password_hash or not check_password_hash(user.password_hash, str(current or "")):
        raise ValidationError("Your current password is not right.", "current")
    user.password_hash = _hash(check_password(new))
    user.session_token = secrets.token_hex(16)
    db.session.commit()


@atomic
def set_role(actor: User, user: User, role: str) -> None:
    """Staff change a user's role."""
    if not actor.is_staff:
        raise PermissionDenied("Only staff can change roles.")
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.", "role")
    user.role = role
    db.session.commit()
