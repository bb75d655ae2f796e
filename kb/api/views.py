"""The JSON API, /api/v1: threads, answers, comments, votes, accept, search, match, articles,
tags and users. Reads are public; writes need a write-scoped personal token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from kb import threads as ops
from kb.api import serialize as out
from kb.api.common import (
    ApiError,
    acting_user,
    choice_arg,
    identify,
    int_arg,
    json_body,
    make_cursor,
    rate_headers,
    rate_limit,
    read_cursor,
)
from kb.db import db
from kb.errors import NotFound
from kb.models import Answer, Article, Tag, Thread, User, article_tags, thread_tags
from kb.search import backend
from kb.search.service import KINDS, STATES, hit_urls, match, normalize_query
from kb.shortlinks import MAX_DB_ID
from kb.validation import NAME_RE, TAG_RE

bp = Blueprint("api", __name__, url_prefix="/api/v1")
SORTS = {
    "recent": Thread.last_activity,
    "created": Thread.created,
    "votes": Thread.score,
}


@bp.before_request
def _before() -> None:
    identify()
    rate_limit()


@bp.after_request
def _after(response: Response) -> Response:
    if request.method == "GET" and response.status_code == 200 and response.is_json:
        response.add_etag()
        response.make_conditional(request)
    response.headers.setdefault("Cache-Control", "no-cache")
    return rate_headers(response)


def created(payload: dict[str, Any]) -> Response:
    """A 201 with a JSON body."""
    response = jsonify(payload)
    response.status_code = 201
    return response


def _thread(thread_id: int) -> Thread:
    try:
        return ops.get_thread(thread_id)
    except NotFound:
        raise ApiError(404, "not_found", "No thread with that id.") from None


def _tag_arg() -> str | None:
    tag = request.args.get("tag") or None
    if tag is not None and (len(tag) > 30 or not TAG_RE.match(tag)):
        raise ApiError(
            400, "invalid_parameter", "'tag' is lowercase letters, digits and dashes.", "tag"
        )
    return tag


# ----- threads --------------------------------------------------------------------------------


@bp.get("/threads")
def list_threads() -> Any:
    """Threads, newest activity first (or by votes or creation), with filters and a cursor."""
    limit = int_arg("limit", 20, 1, 100)
    tag = _tag_arg()
    solved = choice_arg("solved", ("true", "false"))
    sort = choice_arg("sort", tuple(SORTS), "recent") or "recent"
    text = normalize_query(request.args.get("q", ""))
    if text:
        return _search_threads(text, tag, solved, limit)
    cursor = read_cursor(request.args.get("cursor"), f"threads:{sort}")
    column = SORTS[sort]
    stmt = select(Thread).where(Thread.hidden.is_(False)).options(selectinload(Thread.tags))
    if solved == "true":
        stmt = stmt.where(Thread.accepted_answer_id.is_not(None))
    elif solved == "false":
        stmt = stmt.where(Thread.accepted_answer_id.is_(None))
    if tag:
        stmt = stmt.where(
            Thread.id.in_(
                select(thread_tags.c.thread_id)
                .join(Tag, Tag.id == thread_tags.c.tag_id)
                .where(Tag.name == tag)
            )
        )
    if cursor:
        value: Any = cursor.get("v")
        if sort != "votes":
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                raise ApiError(
                    400, "invalid_cursor", "This cursor is not valid.", "cursor"
                ) from None
        elif not isinstance(value, int):
            raise ApiError(400, "invalid_cursor", "This cursor is not valid.", "cursor")
        last_id = cursor.get("id")
        if not isinstance(last_id, int):
            raise ApiError(400, "invalid_cursor", "This cursor is not valid.", "cursor")
        stmt = stmt.where(or_(column < value, and_(column == value, Thread.id < last_id)))
    rows = db.session.scalars(stmt.order_by(column.desc(), Thread.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        raw = getattr(last, column.key)
        next_cursor = make_cursor(
            {
                "k": f"threads:{sort}",
                "v": raw if sort == "votes" else raw.isoformat(),
                "id": last.id,
            }
        )
    return jsonify({"items": [out.thread_summary(t) for t in items], "next_cursor": next_cursor})


def _search_threads(text: str, tag: str | None, solved: str | None, limit: int) -> Any:
    cursor = read_cursor(request.args.get("cursor"), "threads:q")
    offset = int(cursor.get("o", 0)) if cursor else 0
    if offset < 0 or offset > 10_000:
        raise ApiError(400, "invalid_cursor", "This cursor is not valid.", "cursor")
    state = {"true": "solved", "false": "open"}.get(solved or "")
    found = backend().search(
        text, kind="thread", tag=tag, state=state, offset=offset, limit=limit + 1, snippets=False
    )
    ids = [h.db_id for h in found.hits[:limit]]
    threads = {
        t.id: t
        for t in db.session.scalars(
            select(Thread).where(Thread.id.in_(ids)).options(selectinload(Thread.tags))
        )
    }
    items = [out.thread_summary(threads[i]) for i in ids if i in threads and not threads[i].hidden]
    next_cursor = (
        make_cursor({"k": "threads:q", "o": offset + limit}) if len(found.hits) > limit else None
    )
    return jsonify({"items": items, "next_cursor": next_cursor})


@bp.get("/threads/<id:thread_id>")
def get_thread(thread_id: int) -> Any:
    """One thread with its answers (accepted first, then by score) and comments."""
    thread = _thread(thread_id)
    data = ops.thread_page_data(thread, None)
    return jsonify(out.thread_full(thread, data["answers"], data["comments"]))  # type: ignore[arg-type]


@bp.post("/threads")
def create_thread() -> Any:
    """Ask a question as the token's user."""
    user = acting_user()
    body = json_body({"title": (str, True), "body": (str, True), "tags": (list, True)})
    thread = ops.ask_thread(user, title=body["title"], body=body["body"], tags=body["tags"])
    data = ops.thread_page_data(thread, None)
    return created(out.thread_full(thread, data["answers"], data["comments"]))  # type: ignore[arg-type]


@bp.post("/threads/<id:thread_id>/answers")
def create_answer(thread_id: int) -> Any:
    """Answer a thread as the token's user."""
    user = acting_user()
    thread = _thread(thread_id)
    body = json_body({"body": (str, True)})
    answer = ops.post_answer(thread, user, body=body["body"])
    return created(out.answer_json(answer, thread, []))


@bp.post("/threads/<id:thread_id>/comments")
def create_comment(thread_id: int) -> Any:
    """Comment on the question, or on one of its answers with answer_id."""
    user = acting_user()
    thread = _thread(thread_id)
    body = json_body({"body": (str, True), "answer_id": (int, False)})
    answer = None
    if body.get("answer_id") is not None:
        answer = (
            db.session.get(Answer, body["answer_id"])
            if 0 < body["answer_id"] <= MAX_DB_ID
            else None
        )
        if answer is None or answer.thread_id != thread.id or answer.hidden:
            raise ApiError(404, "not_found", "No such answer in this thread.", "answer_id")
    comment = ops.post_comment(user, thread, body=body["body"], answer=answer)
    return created(out.comment_json(comment))


def _vote(kind: str, target_id: int) -> Any:
    user = acting_user()
    body = json_body({"value": (int, True)})
    if body["value"] not in (-1, 0, 1):
        raise ApiError(
            400, "invalid_value", "'value' is 1 (up), -1 (down) or 0 (withdraw).", "value"
        )
    score = ops.cast_vote(user, kind, target_id, body["value"])
    return jsonify({"kind": kind, "id": target_id, "score": score, "your_vote": body["value"]})


@bp.post("/threads/<id:thread_id>/vote")
def vote_thread(thread_id: int) -> Any:
    """Vote on a question."""
    return _vote("thread", thread_id)


@bp.post("/answers/<id:answer_id>/vote")
def vote_answer(answer_id: int) -> Any:
    """Vote on an answer."""
    return _vote("answer", answer_id)


@bp.post("/threads/<id:thread_id>/accept")
def accept(thread_id: int) -> Any:
    """Accept an answer (answer_id), or take the acceptance back (answer_id null)."""
    user = acting_user()
    thread = _thread(thread_id)
    body = json_body({"answer_id": ((int, type(None)), True)})
    if body["answer_id"] is None:
        ops.unaccept_answer(thread, user)
    else:
        answer = (
            db.session.get(Answer, body["answer_id"])
            if 0 < body["answer_id"] <= MAX_DB_ID
            else None
        )
        if answer is None:
            raise ApiError(404, "not_found", "No such answer.", "answer_id")
        ops.accept_answer(thread, answer, user)
    db.session.refresh(thread)
    return jsonify(out.thread_summary(thread))


# ----- search and match -----------------------------------------------------------------------


@bp.get("/search")
def search() -> Any:
    """Search threads and articles, as the site's search page does."""
    text = normalize_query(request.args.get("q", ""))
    if not text:
        raise ApiError(400, "missing_parameter", "'q' is required.", "q")
    limit = int_arg("limit", 20, 1, 50)
    kind = choice_arg("type", tuple(sorted(KINDS)))
    state = choice_arg("state", tuple(sorted(STATES)))
    tag = _tag_arg()
    cursor = read_cursor(request.args.get("cursor"), "search")
    offset = int(cursor.get("o", 0)) if cursor else 0
    if offset < 0 or offset > 10_000:
        raise ApiError(400, "invalid_cursor", "This cursor is not valid.", "cursor")
    found = backend().search(
        text, kind=kind, tag=tag, state=STATES.get(state or ""), offset=offset, limit=limit + 1,
        snippets=False,
    )  # fmt: skip
    hits = found.hits[:limit]
    urls = hit_urls(hits, external=True)
    items = [
        {
            "kind": h.kind, "id": h.db_id, "title": h.title,
            "url": urls.get(f"{h.kind}:{h.db_id}", ""), "solved": h.solved, "tags": h.tags,
            "score": round(h.score, 4), "excerpt": h.body_start,
        }
        for h in hits
    ]  # fmt: skip
    next_cursor = (
        make_cursor({"k": "search", "o": offset + limit}) if len(found.hits) > limit else None
    )
    return jsonify({"items": items, "next_cursor": next_cursor})


@bp.get("/match")
def match_route() -> Any:
    """The concierge's matcher: the best threads and articles for a question."""
    text = request.args.get("q", "")
    if not normalize_query(text):
        raise ApiError(400, "missing_parameter", "'q' is required.", "q")
    return jsonify({"items": match(text, limit=int_arg("limit", 5, 1, 50))})


# ----- articles, tags, users ------------------------------------------------------------------


@bp.get("/articles")
def list_articles() -> Any:
    """Published articles by slug, with an optional tag filter and a cursor."""
    limit = int_arg("limit", 50, 1, 100)
    tag = _tag_arg()
    cursor = read_cursor(request.args.get("cursor"), "articles")
    stmt = select(Article).where(Article.published.is_(True)).options(selectinload(Article.tags))
    if tag:
        stmt = stmt.where(
            Article.id.in_(
                select(article_tags.c.article_id)
                .join(Tag, Tag.id == article_tags.c.tag_id)
                .where(Tag.name == tag)
            )
        )
    if cursor:
        if not isinstance(cursor.get("s"), str):
            raise ApiError(400, "invalid_cursor", "This cursor is not valid.", "cursor")
        stmt = stmt.where(Article.slug > cursor["s"])
    rows = db.session.scalars(stmt.order_by(Article.slug).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = make_cursor({"k": "articles", "s": items[-1].slug}) if len(rows) > limit else None
    return jsonify({"items": [out.article_summary(a) for a in items], "next_cursor": next_cursor})


@bp.get("/articles/<slug>")
def get_article(slug: str) -> Any:
    """One published article."""
    article = None
    if len(slug) <= 120:
        article = db.session.scalar(select(Article).where(Article.slug == slug))
    if article is None or not article.published:
        raise ApiError(404, "not_found", "No article with that slug.")
    return jsonify(out.article_full(article))


@bp.get("/tags")
def list_tags() -> Any:
    """Tags with their thread counts, most used first."""
    return jsonify({"items": [{"name": n, "count": c} for n, c in ops.tag_counts(1000)]})


@bp.get("/users/<name>")
def get_user(name: str) -> Any:
    """A user's public profile."""
    user = db.session.scalar(select(User).where(User.name == name)) if NAME_RE.match(name) else None
    if user is None:
        raise ApiError(404, "not_found", "No user with that name.")
    questions = db.session.scalar(
        select(func.count(Thread.id)).where(Thread.author_id == user.id, Thread.hidden.is_(False))
    )
    answers = db.session.scalar(
        select(func.count(Answer.id)).where(Answer.author_id == user.id, Answer.hidden.is_(False))
    )
    return jsonify(out.user_profile(user, questions or 0, answers or 0))


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 description of this API."""
    from kb.api.openapi import spec

    return jsonify(spec())
