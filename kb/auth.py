"""Logins: Flask-Login wired to server-side session tokens."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager

from kb.db import db
from kb.models import User

login_manager = LoginManager()
login_manager.login_view = "users.login"
login_manager.login_message = "Log in to do that."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """The user for a session identity, only while its session token is current."""
    user_id, _, token = identity.partition(":")
    if not user_id.isdigit() or len(user_id) > 18 or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_token != token:
        return None
    return user


def init_app(app: Flask) -> None:
    """Attach the login manager."""
    login_manager.init_app(app)
