"""The moderators' queue of flagged posts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import threads as ops
from kb.db import db
from kb.errors import OperationError
from kb.models import Flag

bp = Blueprint("moderation", __name__, url_prefix="/moderation")


@bp.before_request
@login_required
def _moderators_only() -> None:
    if not current_user.is_moderator:
        abort(403)


@bp.get("/flags")
def flags() -> str:
    """Open flags, oldest first, with the flagged text."""
    open_flags = db.session.scalars(
        select(Flag).where(Flag.status == "open").order_by(Flag.created, Flag.id).limit(200)
    ).all()
    items = []
    for flag in open_flags:
        target = db.session.get(ops.FLAG_MODELS[flag.target_kind], flag.target_id)
        items.append({"flag": flag, "target": target})
    return render_template("moderation/flags.html", items=items)


@bp.post("/flags/<id:flag_id>")
def resolve(flag_id: int) -> Any:
    """Hide the post or dismiss the flag."""
    flag = db.session.get(Flag, flag_id)
    if flag is None:
        abort(404)
    try:
        ops.resolve_flag(flag, current_user, request.form.get("action", ""))
    except OperationError as err:
        flash(err.message, "error")
    else:
        flash("Done.", "success")
    return redirect(url_for("moderation.flags"))
