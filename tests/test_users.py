"""Accounts: creating, authenticating, logging out and changing passwords; the `kb user` command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kb import create_app, users
from kb.db import db
from kb.errors import PermissionDenied, ValidationError
from kb.models import User
from kb.users import authenticate, change_password, create_user, end_sessions, set_role
from tests.conftest import PASSWORD, app_config, csrf_token, login, post_form


def user_count() -> int:
    """How many accounts exist."""
    return db.session.scalar(select(func.count()).select_from(User))


# -------------------------------------------------------------------- create


def test_create_user_normalises_and_hashes(app):
    user = create_user("  Ann_Smith ", email=" Ann@Example.COM ", password=PASSWORD)
    assert (user.name, user.email, user.role, user.reputation) == (
        "ann_smith",
        "ann@example.com",
        "member",
        0,
    )
    assert user.password_hash and PASSWORD not in user.password_hash
    assert user.password_hash.startswith("pbkdf2:sha256:1000$")
    assert len(user.session_token) == 32


@pytest.mark.parametrize(
    ("name", "email", "password", "role", "field"),
    [
        ("an", "an@example.com", PASSWORD, "member", "name"),
        ("a" * 31, "long@example.com", PASSWORD, "member", "name"),
        ("ann smith", "ann@example.com", PASSWORD, "member", "name"),
        ("ann!", "ann@example.com", PASSWORD, "member", "name"),
        ("änn", "ann@example.com", PASSWORD, "member", "name"),
        (None, "ann@example.com", PASSWORD, "member", "name"),
        ("ann", "not-an-email", PASSWORD, "member", "email"),
        ("ann", "ann@example", PASSWORD, "member", "email"),
        ("ann", "ann @example.com", PASSWORD, "member", "email"),
        ("ann", "ann@example.com", "short", "member", "password"),
        ("ann", "ann@example.com", "", "member", "password"),
        ("ann", "ann@example.com", "p" * 201, "member", "password"),
        ("ann", "ann@example.com", PASSWORD, "admin", "role"),
    ],
)
def test_create_user_rejects_bad_input(app, name, email, password, role, field):
    with pytest.raises(ValidationError) as info:
        create_user(name, email=email, password=password, role=role)
    assert info.value.field == field
    assert user_count() == 0


@pytest.mark.parametrize(
    ("name", "email", "field"),
    [
        ("ANN", "other@example.com", "name"),
        ("ann", "other@example.com", "name"),
        ("anna", "ANN@example.com", "email"),
    ],
)
def test_create_user_refuses_duplicates(app, make_user, name, email, field):
    make_user("ann")
    with pytest.raises(ValidationError) as info:
        create_user(name, email=email, password=PASSWORD)
    assert info.value.field == field
    assert user_count() == 1


def test_only_staff_change_roles(app, make_user):
    sam, ann = make_user("sam", role="staff"), make_user("ann")
    with pytest.raises(PermissionDenied):
        set_role(ann, ann, "staff")
    with pytest.raises(ValidationError):
        set_role(sam, ann, "owner")
    db.session.rollback()
    assert db.session.get(User, ann.id).role == "member"
    set_role(sam, ann, "moderator")
    assert db.session.get(User, ann.id).is_moderator


# ------------------------------------------------------------- authenticate


def test_authenticate_by_name_or_email(app, make_user):
    ann = make_user("ann")
    assert authenticate("ann", PASSWORD) == ann
    assert authenticate("  ANN ", PASSWORD) == ann
    assert authenticate("Ann@Example.com", PASSWORD) == ann


@pytest.mark.parametrize(
    ("ident", "password"),
    [
        ("ann", "wrong password"),
        ("ann", ""),
        ("ann", PASSWORD.upper()),
        ("nobody", PASSWORD),
        ("nobody@example.com", PASSWORD),
        ("", PASSWORD),
        ("a" * 300, PASSWORD),
        (None, PASSWORD),
        ("ann", None),
        (["ann"], PASSWORD),
    ],
)
def test_authenticate_refuses_wrong_password_and_unknown_accounts(app, make_user, ident, password):
    make_user("ann")
    assert authenticate(ident, password) is None


def test_unknown_account_still_checks_a_hash(app, make_user, monkeypatch):
    monkeypatch.setattr(users, "_DUMMY_HASH", {})
    make_user("ann")
    assert authenticate("ann", "wrong password") is None
    assert users._DUMMY_HASH == {}  # a known account checks its own hash

    assert authenticate("nobody", PASSWORD) is None
    dummy = users._DUMMY_HASH[app.config["PASSWORD_METHOD"]]
    assert dummy.startswith("pbkdf2:sha256:1000$")
    assert authenticate("someone-else", PASSWORD) is None
    assert users._DUMMY_HASH == {app.config["PASSWORD_METHOD"]: dummy}  # made once, reused


def test_account_without_password_cannot_log_in(app, monkeypatch):
    monkeypatch.setattr(users, "_DUMMY_HASH", {})
    create_user("imported", email="imported@example.com", password=None)
    assert authenticate("imported", "") is None
    assert authenticate("imported", PASSWORD) is None
    assert app.config["PASSWORD_METHOD"] in users._DUMMY_HASH


# ------------------------------------------------------------ change password


def test_change_password_checks_the_current_one(app, make_user):
    ann = make_user("ann")
    old_hash, old_token = ann.password_hash, ann.session_token
    for current, new, field in [
        ("wrong password", "a brand new password", "current"),
        (None, "a brand new password", "current"),
        (PASSWORD, "short", "password"),
    ]:
        with pytest.raises(ValidationError) as info:
            change_password(ann, current=current, new=new)
        assert info.value.field == field
        db.session.rollback()
        assert (ann.password_hash, ann.session_token) == (old_hash, old_token)

    change_password(ann, current=PASSWORD, new="a brand new password")
    assert ann.session_token != old_token
    assert authenticate("ann", PASSWORD) is None
    assert authenticate("ann", "a brand new password") == ann


def test_end_sessions_rotates_the_token(app, make_user):
    ann = make_user("ann")
    before = ann.get_id()
    end_sessions(ann)
    assert ann.get_id() != before and ann.get_id().startswith(f"{ann.id}:")


# ------------------------------------------------------------- sessions (HTTP)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Flask]:
    """An app whose requests each get their own app context, as in production.

    The shared `app` fixture keeps one app context pushed for the whole test, so `g`
    (where Flask-Login keeps the current user) would carry over from one client to another.
    """
    site = create_app(app_config(tmp_path))
    with site.app_context():
        db.create_all()
        create_user("ann", email="ann@example.com", password=PASSWORD)
    yield site
    with site.app_context():
        site.extensions["kb_search"].close()
        db.engine.dispose()


def logged_in_as(client: FlaskClient) -> str | None:
    """The name the site greets this client with, or None when anonymous."""
    response = client.get("/settings")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return None
    assert response.status_code == 200
    html = client.get("/").get_data(as_text=True)
    return "ann" if 'href="/u/ann" class="me"' in html else "?"


def test_logout_ends_the_session_on_the_server(site):
    client = site.test_client()
    login(client, "ann")
    assert logged_in_as(client) == "ann"
    stolen = client.get_cookie("session").value
    replay = site.test_client()
    replay.set_cookie("session", stolen)
    assert logged_in_as(replay) == "ann"  # the copied cookie is as good as the original

    response = post_form(client, "/logout", {})
    assert response.status_code == 302
    assert logged_in_as(client) is None

    replay.set_cookie("session", stolen)
    assert logged_in_as(replay) is None


def test_logout_needs_a_post_with_a_token(site):
    client = site.test_client()
    login(client, "ann")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert logged_in_as(client) == "ann"


def test_changing_password_ends_other_sessions_but_keeps_this_one(site):
    laptop, phone = site.test_client(), site.test_client()
    login(laptop, "ann")
    login(phone, "ann")

    response = post_form(
        laptop,
        "/settings",
        {"current": PASSWORD, "new": "a brand new password", "confirm": "a brand new password"},
        token_from="/settings",
    )
    assert response.status_code == 302
    assert "Other sessions have been logged out" in laptop.get("/settings").get_data(as_text=True)

    assert logged_in_as(laptop) == "ann"
    assert logged_in_as(phone) is None
    login(phone, "ann", "a brand new password")
    assert logged_in_as(phone) == "ann"


def test_settings_form_reports_wrong_current_password(site):
    client = site.test_client()
    login(client, "ann")
    other = site.test_client()
    login(other, "ann")
    response = post_form(
        client,
        "/settings",
        {
            "current": "not my password",
            "new": "a brand new password",
            "confirm": "a brand new password",
        },
        token_from="/settings",
    )
    assert response.status_code == 400
    assert "Your current password is not right." in response.get_data(as_text=True)
    assert logged_in_as(other) == "ann"
    with site.app_context():
        assert authenticate("ann", PASSWORD) is not None


def test_register_logs_the_new_member_in(site):
    client = site.test_client()
    token = csrf_token(client, "/register")
    response = client.post(
        "/register",
        data={
            "name": "bob",
            "email": "bob@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert 'href="/u/bob" class="me"' in client.get("/").get_data(as_text=True)
    with site.app_context():
        assert db.session.scalar(select(User.role).where(User.name == "bob")) == "member"


# ---------------------------------------------------------------------- CLI


def test_cli_creates_a_staff_user(app, runner):
    result = runner.invoke(
        args=[
            "user",
            "create",
            "sam",
            "--email",
            "sam@example.com",
            "--role",
            "staff",
            "--password-stdin",
        ],
        input="a long staff password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created staff 'sam'." in result.output
    db.session.rollback()
    sam = authenticate("sam", "a long staff password")
    assert sam is not None and sam.is_staff and sam.email == "sam@example.com"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["bad name", "--email", "x@example.com"], "a long password\n", "Names are 3 to 30"),
        (["sam", "--email", "not-an-email"], "a long password\n", "valid email"),
        (["sam", "--email", "sam@example.com"], "short\n", "at least 8 characters"),
        (["sam", "--email", "sam@example.com"], "", "at least 8 characters"),
        (["ann", "--email", "new@example.com"], "a long password\n", "name is taken"),
        (["sam", "--email", "ann@example.com"], "a long password\n", "already exists"),
        (["sam", "--email", "s@example.com", "--role", "admin"], "a long password\n", "admin"),
        (["sam"], "a long password\n", "--email"),
    ],
)
def test_cli_bad_input_is_a_clear_error(app, runner, make_user, args, stdin, message):
    make_user("ann")
    db.session.commit()
    result = runner.invoke(args=["user", "create", *args, "--password-stdin"], input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    db.session.rollback()
    assert db.session.scalars(select(User.name)).all() == ["ann"]
