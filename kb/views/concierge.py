"""The concierge pages: the staff approval queue with measures, and unanswered mentions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb.concierge import measures
from kb.concierge import service as ops
from kb.concierge.compose import tweet_length
from kb.concierge.models import LinkSuggestion, Mention, Reply
from kb.concierge.triage import redact_private
from kb.db import db
from kb.errors import OperationError
from kb.views import page_arg

bp = Blueprint("concierge", __name__, url_prefix="/concierge")


def _staff_only() -> None:
    if not current_user.is_authenticated:
        abort(401)
    if not current_user.is_staff:
        abort(403)


@bp.get("")
@login_required
def index() -> str:
    """Drafts to approve, the send queue, suggestions, and the measures."""
    _staff_only()
    drafts = db.session.scalars(
        select(Reply).where(Reply.state.in_(("draft", "failed"))).order_by(Reply.id).limit(100)
    ).all()
    queued = db.session.scalars(
        select(Reply).where(Reply.state.in_(("approved", "sending"))).order_by(Reply.id).limit(50)
    ).all()
    recent = db.session.scalars(
        select(Mention).where(Mention.decision != "new").order_by(Mention.id.desc()).limit(30)
    ).all()
    suggestions = db.session.scalars(
        select(LinkSuggestion).where(LinkSuggestion.status == "open").order_by(LinkSuggestion.id)
    ).all()
    return render_template(
        "concierge/index.html", drafts=drafts, queued=queued, recent=recent,
        suggestions=suggestions, m=measures.compute(), tweet_length=tweet_length,
        account=ops.get_state("account_username"),
    )  # fmt: skip


def _reply(reply_id: int) -> Reply:
    reply = db.session.get(Reply, reply_id)
    if reply is None:
        abort(404)
    return reply


@bp.post("/replies/<id:reply_id>")
@login_required
def act(reply_id: int) -> Any:
    """Approve (optionally with edited text) or reject a draft."""
    _staff_only()
    reply = _reply(reply_id)
    action = request.form.get("action", "")
    try:
        if action == "approve":
            edited = request.form.get("text")
            ops.approve_reply(reply, current_user, text=edited if edited != reply.text else None)
            flash("Approved. The concierge sends it on its next pass.", "success")
        elif action == "reject":
            ops.reject_reply(reply, current_user)
            flash("Rejected. Nothing will be sent.", "info")
        else:
            abort(400)
    except OperationError as err:
        flash(err.message, "error")
    return redirect(url_for("concierge.index") + f"#reply-{reply.id}")


@bp.post("/suggestions/<id:suggestion_id>")
@login_required
def approve_suggestion(suggestion_id: int) -> Any:
    """Staff turn a member's suggested link into a reply draft."""
    _staff_only()
    suggestion = db.session.get(LinkSuggestion, suggestion_id)
    if suggestion is None:
        abort(404)
    if request.form.get("action") == "decline":
        suggestion.status = "declined"
        db.session.commit()
        flash("Suggestion declined.", "info")
    else:
        try:
            ops.approve_suggestion(suggestion, current_user)
        except OperationError as err:
            flash(err.message, "error")
        else:
            flash(f"Thanks to {suggestion.user.name}: a reply draft is ready below.", "success")
    return redirect(url_for("concierge.index"))


@bp.get("/unanswered")
def unanswered() -> str:
    """Mentions the concierge could not answer: the community can help."""
    page = page_arg()
    rows = db.session.scalars(
        select(Mention)
        .where(Mention.unanswered.is_(True))
        .order_by(Mention.id.desc())
        .offset((page - 1) * 20)
        .limit(21)
    ).all()
    items = [{"mention": m, "text": redact_private(m.cleaned or m.text)} for m in rows[:20]]
    return render_template(
        "concierge/unanswered.html", items=items, page=page, has_next=len(rows) > 20, errors={}
    )


@bp.post("/unanswered/<id:mention_id>/suggest")
@login_required
def suggest(mention_id: int) -> Any:
    """Suggest an existing thread or answer for an unanswered mention."""
    mention = db.session.get(Mention, mention_id)
    if mention is None or not mention.unanswered:
        abort(404)
    try:
        ops.suggest_link(mention, current_user, target=request.form.get("target", ""))
    except OperationError as err:
        flash(err.message, "error")
    else:
        flash("Thanks! Staff will review your suggestion.", "success")
    return redirect(url_for("concierge.unanswered") + f"#mention-{mention.id}")
