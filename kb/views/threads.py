"""Thread pages: lists, the thread itself, asking, answering, editing, voting, accepting."""

from __future__ import annotations

import difflib
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import pagecache
from kb import threads as ops
from kb.errors import NotFound, OperationError
from kb.models import Answer, Tag, Thread, slugify
from kb.search.service import similar_threads
from kb.validation import TAG_RE
from kb.views import form_errors, page_arg
from kb.views.helpers import thread_url
from kb.views.reuse import feedback_given, reuse_context

bp = Blueprint("threads", __name__)


def _viewer() -> Any:
    return current_user if current_user.is_authenticated else None


@bp.get("/")
def index() -> str:
    """Home: Recent, Unanswered and Solved tabs."""
    tab = request.args.get("tab", "recent")
    if tab not in ops.TABS:
        tab = "recent"
    page = page_arg()
    threads, has_next = ops.list_threads(tab=tab, page=page)
    return render_template(
        "threads/index.html", threads=threads, tab=tab, page=page, has_next=has_next,
        popular_tags=ops.tag_counts(12),
    )  # fmt: skip


@bp.get("/tags")
def tags() -> str:
    """Every tag with its thread count."""
    return render_template("threads/tags.html", tags=ops.tag_counts(500))


@bp.get("/tags/<tag>")
def tag(tag: str) -> str:
    """Threads with one tag."""
    if len(tag) > 30 or not TAG_RE.match(tag):
        abort(404)
    if ops.db.session.scalar(select(Tag.id).where(Tag.name == tag)) is None:
        abort(404)  # an unknown tag is a missing page, not an empty list
    tab = request.args.get("tab", "recent")
    if tab not in ops.TABS:
        tab = "recent"
    page = page_arg()
    threads, has_next = ops.list_threads(tab=tab, tag=tag, page=page)
    return render_template(
        "threads/tag.html", tag=tag, threads=threads, tab=tab, page=page, has_next=has_next
    )


@bp.get("/t/<id:thread_id>")
@bp.get("/t/<id:thread_id>/<slug>")
def show(thread_id: int, slug: str | None = None) -> Any:
    """A thread: the question, then answers (accepted first, then by score, then age)."""
    if pagecache.shareable() and not feedback_given("thread", thread_id):
        return _show_shared(thread_id, slug)
    thread = ops.get_thread(thread_id, _viewer())
    if slug != thread.slug:
        return redirect(thread_url(thread), 301)
    data = ops.thread_page_data(thread, _viewer())
    return render_template(
        "threads/show.html", thread=thread, **data, **reuse_context(thread), errors={}
    )


def _show_shared(thread_id: int, slug: str | None) -> Any:
    """The logged-out page, from the page cache while the thread's version stays the same."""
    # Read the version before the page's data: a page is never older than its key.
    stamp = ops.thread_stamp(thread_id)
    if stamp is None:
        raise NotFound("That thread does not exist.")
    title, version = stamp
    canonical = slugify(title)
    if slug != canonical:
        return redirect(url_for("threads.show", thread_id=thread_id, slug=canonical), 301)
    cache = pagecache.page_cache()
    page = cache.get(request.path, version)
    if page is None:
        thread = ops.get_thread(thread_id)
        data = ops.thread_page_data(thread, None)
        body = pagecache.render(
            "threads/show.html", thread=thread, **data, **reuse_context(thread), errors={}
        )
        page = cache.put(request.path, version, body)
    return pagecache.respond(page)


@bp.route("/ask", methods=["GET", "POST"])
@login_required
def ask() -> Any:
    """Ask a new question."""
    values = {"title": request.args.get("title", "")[:150], "body": "", "tags": ""}
    mention = request.values.get("mention", "")
    mention = mention if mention.isdigit() and len(mention) <= 18 else ""
    errors: dict[str, str] = {}
    similar: list[dict[str, Any]] = []
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("title", "body", "tags")}
        if not request.form.get("confirmed"):
            # Without JavaScript, show similar threads first; "none of these" posts it.
            similar = similar_threads(values["title"])
            if similar:
                return render_template(
                    "threads/ask.html", values=values, errors={}, mention=mention, similar=similar
                )
        try:
            thread = ops.ask_thread(current_user, **values)
        except OperationError as err:
            errors = form_errors(err)
        else:
            if mention:
                from kb.concierge.service import link_thread_to_mention

                link_thread_to_mention(thread, int(mention))
            flash("Your question is posted. You'll see answers here.", "success")
            return redirect(thread_url(thread))
    return render_template(
        "threads/ask.html", values=values, errors=errors, mention=mention, similar=similar
    ), (400 if errors else 200)


@bp.get("/ask/similar")
def similar() -> Any:
    """Threads similar to a title being typed (JSON for the ask page's script)."""
    title = request.args.get("title", "")[:300]
    return jsonify({"threads": similar_threads(title)})


@bp.post("/t/<id:thread_id>/answer")
@login_required
def answer(thread_id: int) -> Any:
    """Post an answer."""
    thread = ops.get_thread(thread_id, current_user)
    body = request.form.get("body", "")
    try:
        new = ops.post_answer(thread, current_user, body=body)
    except OperationError as err:
        data = ops.thread_page_data(thread, current_user)
        return render_template(
            "threads/show.html", thread=thread, **data, **reuse_context(thread, related=False),
            errors=form_errors(err), answer_body=body,
        ), err.status  # fmt: skip
    flash("Thanks! Your answer is posted.", "success")
    return redirect(thread_url(thread, new.id))


@bp.post("/t/<id:thread_id>/comment")
@login_required
def comment(thread_id: int) -> Any:
    """Comment on the question or an answer."""
    thread = ops.get_thread(thread_id, current_user)
    answer = None
    raw_answer = request.form.get("answer_id", "")
    if raw_answer:
        if not raw_answer.isdigit() or len(raw_answer) > 18:
            abort(404)
        answer = ops.get_answer(int(raw_answer), current_user)
    try:
        ops.post_comment(current_user, thread, body=request.form.get("body", ""), answer=answer)
    except OperationError as err:
        flash(err.message, "error")
    return redirect(thread_url(thread, answer.id if answer else None))


@bp.post("/vote/<kind>/<id:target_id>")
@login_required
def vote(kind: str, target_id: int) -> Any:
    """Vote a question or answer up or down (again to withdraw)."""
    if kind not in ("thread", "answer"):
        abort(404)
    direction = {"up": 1, "down": -1, "clear": 0}.get(request.form.get("value", ""))
    if direction is None:
        abort(400)
    try:
        ops.cast_vote(current_user, kind, target_id, direction)
    except OperationError as err:
        if err.status == 404:
            raise
        flash(err.message, "error")
    if kind == "thread":
        thread = ops.get_thread(target_id, current_user)
        return redirect(thread_url(thread))
    answer = ops.get_answer(target_id, current_user)
    return redirect(thread_url(answer.thread, answer.id))


@bp.post("/t/<id:thread_id>/accept")
@login_required
def accept(thread_id: int) -> Any:
    """Accept an answer, or take the acceptance back."""
    thread = ops.get_thread(thread_id, current_user)
    raw = request.form.get("answer_id", "")
    if raw == "none":
        ops.unaccept_answer(thread, current_user)
        flash("The answer is no longer marked as accepted.", "info")
        return redirect(thread_url(thread))
    if not raw.isdigit() or len(raw) > 18:
        abort(400)
    answer = ops.get_answer(int(raw), current_user)
    ops.accept_answer(thread, answer, current_user)
    flash("Marked as the answer that worked. This thread is now Solved.", "success")
    return redirect(thread_url(thread, answer.id))


@bp.route("/t/<id:thread_id>/edit", methods=["GET", "POST"])
@login_required
def edit(thread_id: int) -> Any:
    """Edit a question."""
    thread = ops.get_thread(thread_id, current_user)
    if not ops.can_edit(current_user, thread.author_id):
        abort(403)
    values = {"title": thread.title, "body": thread.body_md, "tags": " ".join(thread.tag_names)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("title", "body", "tags")}
        try:
            ops.edit_thread(thread, current_user, **values)
        except OperationError as err:
            errors = form_errors(err)
        else:
            flash("Your edit is saved.", "success")
            return redirect(thread_url(thread))
    return render_template(
        "threads/edit.html", thread=thread, values=values, errors=errors, kind="thread"
    ), (400 if errors else 200)


@bp.route("/answers/<id:answer_id>/edit", methods=["GET", "POST"])
@login_required
def edit_answer(answer_id: int) -> Any:
    """Edit an answer."""
    answer = ops.get_answer(answer_id, current_user)
    if not ops.can_edit(current_user, answer.author_id):
        abort(403)
    values = {"body": answer.body_md}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {"body": request.form.get("body", "")}
        try:
            ops.edit_answer(answer, current_user, **values)
        except OperationError as err:
            errors = form_errors(err)
        else:
            flash("Your edit is saved.", "success")
            return redirect(thread_url(answer.thread, answer.id))
    return render_template(
        "threads/edit.html", thread=answer.thread, answer=answer, values=values, errors=errors,
        kind="answer",
    ), (400 if errors else 200)  # fmt: skip


def _diffs(revisions: list[Any]) -> list[dict[str, Any]]:
    out = []
    previous = None
    for number, rev in enumerate(revisions, start=1):
        text = f"{rev.title}\n\n{rev.body_md}" if rev.title else rev.body_md
        if rev.tags:
            text += f"\n\nTags: {rev.tags}"
        lines = []
        if previous is not None:
            for line in difflib.unified_diff(
                previous.splitlines(), text.splitlines(), lineterm="", n=2
            ):
                if line.startswith(("---", "+++")):
                    continue
                kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
                lines.append((kind, line))
        out.append({"number": number, "revision": rev, "lines": lines, "text": text})
        previous = text
    return list(reversed(out))


@bp.get("/t/<id:thread_id>/revisions")
def thread_revisions(thread_id: int) -> str:
    """The full edit history of a question, as diffs."""
    viewer = current_user if current_user.is_authenticated else None
    thread = ops.get_thread(thread_id, viewer)
    revs = _diffs(ops.revisions_of("thread", thread.id))
    return render_template("threads/revisions.html", thread=thread, answer=None, revisions=revs)


@bp.get("/answers/<id:answer_id>/revisions")
def answer_revisions(answer_id: int) -> str:
    """The full edit history of an answer, as diffs."""
    viewer = current_user if current_user.is_authenticated else None
    answer = ops.get_answer(answer_id, viewer)
    revs = _diffs(ops.revisions_of("answer", answer.id))
    return render_template(
        "threads/revisions.html", thread=answer.thread, answer=answer, revisions=revs
    )


@bp.route("/flag/<kind>/<id:target_id>", methods=["GET", "POST"])
@login_required
def flag(kind: str, target_id: int) -> Any:
    """Report a post to the moderators."""
    if kind not in ops.FLAG_MODELS:
        abort(404)
    target = ops.db.session.get(ops.FLAG_MODELS[kind], target_id)
    if target is None:
        abort(404)
    thread = (
        target if isinstance(target, Thread) else ops.get_thread(target.thread_id, current_user)
    )
    errors: dict[str, str] = {}
    reason = ""
    if request.method == "POST":
        reason = request.form.get("reason", "")
        try:
            ops.flag_post(current_user, kind, target_id, reason=reason)
        except OperationError as err:
            errors = form_errors(err)
        else:
            flash("Thanks. A moderator will look at it.", "success")
            anchor = target.id if isinstance(target, Answer) else None
            return redirect(thread_url(thread, anchor))
    return render_template(
        "threads/flag.html", kind=kind, target=target, thread=thread, reason=reason, errors=errors
    ), (400 if errors else 200)
