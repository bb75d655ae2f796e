"""Accounts: register, log in, log out, user pages, settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from kb import users as ops
from kb.db import db
from kb.errors import OperationError, ValidationError
from kb.models import Answer, Thread, User
from kb.validation import NAME_RE
from kb.views import form_errors, page_arg

bp = Blueprint("users", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, never another host."""
    if not target:
        return url_for("threads.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("threads.index")
    return target


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    """Create an account."""
    if current_user.is_authenticated:
        return redirect(url_for("threads.index"))
    values = {"name": "", "email": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {"name": request.form.get("name", ""), "email": request.form.get("email", "")}
        password = request.form.get("password", "")
        try:
            if password != request.form.get("confirm", ""):
                raise ValidationError("The two passwords don't match.", "confirm")
            user = ops.create_user(values["name"], email=values["email"], password=password)
        except OperationError as err:
            errors = form_errors(err)
        else:
            login_user(user)
            flash(f"Welcome, {user.name}! Ask a question or help someone out.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("users/register.html", values=values, errors=errors), (
        400 if errors else 200
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Log in with name or email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("threads.index"))
    ident = ""
    error = None
    if request.method == "POST":
        ident = request.form.get("name", "")
        user = ops.authenticate(ident, request.form.get("password", ""))
        if user is None:
            # One message for unknown accounts and wrong passwords alike.
            error = "That name or password is not right."
        else:
            login_user(user)
            flash(f"Welcome back, {user.name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("users/login.html", ident=ident, error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout() -> Any:
    """Log out, ending this user's sessions on the server too."""
    ops.end_sessions(current_user)
    logout_user()
    flash("You're logged out.", "info")
    return redirect(url_for("threads.index"))


@bp.get("/u/<name>")
def show(name: str) -> str:
    """A user's page: reputation, questions and answers."""
    if not NAME_RE.match(name):
        abort(404)
    user = db.session.scalar(select(User).where(User.name == name))
    if user is None:
        abort(404)
    page = page_arg()
    per = 15
    questions = db.session.scalars(
        select(Thread)
        .where(Thread.author_id == user.id, Thread.hidden.is_(False))
        .order_by(Thread.created.desc())
        .offset((page - 1) * per)
        .limit(per + 1)
    ).all()
    answers = db.session.scalars(
        select(Answer)
        .join(Thread, Thread.id == Answer.thread_id)
        .where(Answer.author_id == user.id, Answer.hidden.is_(False), Thread.hidden.is_(False))
        .order_by(Answer.created.desc())
        .offset((page - 1) * per)
        .limit(per + 1)
    ).all()
    counts = {
        "questions": db.session.scalar(
            select(func.count(Thread.id)).where(
                Thread.author_id == user.id, Thread.hidden.is_(False)
            )
        ),
        "answers": db.session.scalar(
            select(func.count(Answer.id)).where(
                Answer.author_id == user.id, Answer.hidden.is_(False)
            )
        ),
    }
    from kb.concierge.models import LinkSuggestion

    credited = db.session.scalars(
        select(LinkSuggestion)
        .where(LinkSuggestion.user_id == user.id, LinkSuggestion.status == "approved")
        .order_by(LinkSuggestion.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "users/show.html",
        credited=credited, user=user, questions=questions[:per], answers=answers[:per],
        counts=counts, page=page, has_next=len(questions) > per or len(answers) > per,
    )  # fmt: skip


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    """Change your password (which ends your other sessions)."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            if request.form.get("new", "") != request.form.get("confirm", ""):
                raise ValidationError("The two new passwords don't match.", "confirm")
            ops.change_password(
                current_user,
                current=request.form.get("current", ""),
                new=request.form.get("new", ""),
            )
        except OperationError as err:
            errors = form_errors(err)
        else:
            login_user(current_user)
            flash("Password changed. Other sessions have been logged out.", "success")
            return redirect(url_for("users.settings"))
    return render_template("users/settings.html", errors=errors), (400 if errors else 200)
