"""Reusing solved threads: duplicates, related threads, feedback, promotion, content gaps."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import articles as article_ops
from kb import duplicates, feedback, gaps
from kb import threads as ops
from kb.concierge.service import parse_target
from kb.db import db
from kb.errors import OperationError, ValidationError
from kb.models import Article, Thread
from kb.search.service import related_threads
from kb.views.helpers import article_url, thread_url

bp = Blueprint("reuse", __name__)


def feedback_given(kind: str, target_id: int) -> bool:
    """Whether this session already answered "was this helpful?" for the article or thread."""
    return f"{kind}:{target_id}" in session.get("feedback", [])


def reuse_context(thread: Thread, *, related: bool = True) -> dict[str, Any]:
    """What the thread page shows beyond the posts: related, duplicate, article, feedback."""
    viewer = current_user if current_user.is_authenticated else None
    original = db.session.get(Thread, thread.duplicate_of_id) if thread.duplicate_of_id else None
    article = db.session.scalar(
        select(Article).where(Article.from_thread_id == thread.id, Article.published.is_(True))
    )
    staff = viewer is not None and viewer.is_staff
    return {
        # Related questions are cached on first view; a refused post re-renders without them.
        "related": related_threads(thread) if related else [],
        "original": original,
        "forward_article": article,
        "can_close": duplicates.can_vote_duplicate(viewer) and original is None,
        "dup_votes": duplicates.duplicate_votes(thread) if viewer else [],
        "feedback_counts": feedback.counts("thread", thread.id) if staff else None,
        "feedback_given": feedback_given("thread", thread.id),
    }


def _staff() -> None:
    if not current_user.is_authenticated:
        abort(401)
    if not current_user.is_staff:
        abort(403)


@bp.post("/t/<id:thread_id>/duplicate")
@login_required
def close_duplicate(thread_id: int) -> Any:
    """Vote (or, as a moderator, decide) that this thread duplicates another."""
    thread = ops.get_thread(thread_id, current_user)
    try:
        kind, target_id = parse_target(request.form.get("original", ""))
        original = ops.get_thread(
            target_id if kind == "thread" else ops.get_answer(target_id).thread_id
        )
        closed = duplicates.vote_duplicate(thread, original, current_user)
    except OperationError as err:
        flash(err.message, "error")
    else:
        flash("Closed as a duplicate." if closed else "Your duplicate vote is counted.", "success")
    return redirect(thread_url(thread))


@bp.post("/t/<id:thread_id>/reopen")
@login_required
def reopen(thread_id: int) -> Any:
    """Undo a duplicate closure (moderators)."""
    thread = ops.get_thread(thread_id, current_user)
    duplicates.unmark_duplicate(thread, current_user)
    flash("Reopened: this thread takes answers again.", "success")
    return redirect(thread_url(thread))


@bp.post("/feedback/<kind>/<id:target_id>")
def give_feedback(kind: str, target_id: int) -> Any:
    """Was this helpful? Yes or no, with an optional reason."""
    answer = request.form.get("helpful", "")
    if kind not in ("article", "thread") or answer not in ("yes", "no"):
        abort(400)
    user = current_user if current_user.is_authenticated else None
    given = session.get("feedback", [])
    key = f"{kind}:{target_id}"
    if user is None and key in given:
        flash("Thanks, we already have your answer.", "info")
    else:
        try:
            feedback.record_feedback(
                kind,
                target_id,
                helpful=answer == "yes",
                reason=request.form.get("reason", ""),
                user=user,
            )
        except ValidationError as err:
            flash(err.message, "error")
        else:
            session["feedback"] = (given + [key])[-200:]
            flash(
                "Thanks for telling us."
                + ("" if answer == "yes" else " We'll use it to improve this."),
                "success",
            )
    if kind == "article":
        article = db.session.get(Article, target_id)
        return redirect(article_url(article) if article else url_for("articles.index"))
    thread = ops.get_thread(target_id)
    return redirect(thread_url(thread))


@bp.post("/t/<id:thread_id>/promote")
@login_required
def promote(thread_id: int) -> Any:
    """Staff turn a solved thread into a draft article."""
    _staff()
    thread = ops.get_thread(thread_id, current_user)
    try:
        article = article_ops.promote_thread(thread, current_user)
    except OperationError as err:
        flash(err.message, "error")
        return redirect(thread_url(thread))
    return redirect(url_for("reuse.edit_article", slug=article.slug))


def _article(slug: str) -> Article:
    article = db.session.scalar(select(Article).where(Article.slug == slug[:120]))
    if article is None:
        abort(404)
    return article


@bp.route("/a/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit_article(slug: str) -> Any:
    """Edit an article's Markdown and publish it (staff)."""
    _staff()
    article = _article(slug)
    values = {
        "title": article.title, "summary": article.summary, "body": article.body_md,
        "tags": " ".join(article.tag_names),
    }  # fmt: skip
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("title", "summary", "body", "tags")}
        try:
            article_ops.update_article(
                article, current_user, **values, publish=bool(request.form.get("publish"))
            )
        except OperationError as err:
            errors = {err.field or "form": err.message}
        else:
            flash("Article published." if article.published else "Draft saved.", "success")
            return redirect(article_url(article))
    thread = db.session.get(Thread, article.from_thread_id) if article.from_thread_id else None
    return render_template(
        "articles/edit.html", article=article, values=values, errors=errors, thread=thread
    ), (400 if errors else 200)


@bp.post("/a/<slug>/reviewed")
@login_required
def reviewed(slug: str) -> Any:
    """Staff confirm an article is still right."""
    _staff()
    article = _article(slug)
    article_ops.mark_reviewed(article, current_user)
    flash("Marked as reviewed today.", "success")
    return redirect(article_url(article))


@bp.get("/staff/feedback")
@login_required
def feedback_page() -> str:
    """Helpfulness counts and what needs review."""
    _staff()
    from sqlalchemy import case, func

    from kb.models import Feedback

    rows = db.session.execute(
        select(
            Feedback.target_kind, Feedback.target_id,
            func.sum(case((Feedback.helpful.is_(True), 1), else_=0)),
            func.sum(case((Feedback.helpful.is_(False), 1), else_=0)),
        )
        .group_by(Feedback.target_kind, Feedback.target_id)
        .order_by(func.count(Feedback.id).desc())
        .limit(200)
    ).all()  # fmt: skip
    items = []
    for kind, target_id, yes, no in rows:
        target = db.session.get(Article if kind == "article" else Thread, target_id)
        if target is not None:
            items.append({"kind": kind, "target": target, "yes": int(yes), "no": int(no)})
    return render_template("staff/feedback.html", items=items, review=feedback.needs_review())


@bp.get("/staff/gaps")
@login_required
def gaps_page() -> str:
    """Searches and mentions that found nothing good, grouped by similar wording."""
    _staff()
    return render_template("staff/gaps.html", groups=gaps.grouped())


@bp.post("/staff/gaps/resolve")
@login_required
def resolve_gaps() -> Any:
    """Mark a group of gaps as handled."""
    _staff()
    ids = [int(i) for i in request.form.getlist("id") if i.isdigit() and len(i) < 18]
    gaps.resolve_gaps(ids)
    flash("Marked as handled.", "success")
    return redirect(url_for("reuse.gaps_page"))
