"""The settings-page side of API tokens: create (shown once) and revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from kb.api.tokens import create_token, revoke_token
from kb.errors import OperationError

bp = Blueprint("api_tokens", __name__, url_prefix="/settings/tokens")


@bp.post("")
@login_required
def create() -> Any:
    """Make a personal API token; its secret is shown on this response only."""
    try:
        token, secret = create_token(
            current_user, name=request.form.get("name", ""), scope=request.form.get("scope", "")
        )
    except OperationError as err:
        flash(err.message, "error")
        return redirect(url_for("users.settings") + "#api-tokens")
    return render_template("api/token_created.html", token=token, secret=secret)


@bp.post("/<id:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Any:
    """Revoke a token: it stops working at once."""
    try:
        revoke_token(current_user, token_id)
    except OperationError as err:
        flash(err.message, "error")
    else:
        flash("Token revoked.", "success")
    return redirect(url_for("users.settings") + "#api-tokens")
