"""Plain JSON shapes of threads, answers, comments, articles and users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kb.models import Answer, Article, Comment, Thread, User
from kb.urls import article_path, external, thread_path


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC time."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def user_ref(user: User) -> dict[str, Any]:
    """A user as shown beside a post."""
    return {
        "name": user.name,
        "reputation": user.reputation,
        "url": external(f"/u/{user.name}"),
    }


def user_profile(user: User, questions: int, answers: int) -> dict[str, Any]:
    """A user's public profile."""
    return {
        **user_ref(user),
        "role": user.role,
        "about": user.about,
        "created": iso(user.created),
        "question_count": questions,
        "answer_count": answers,
    }


def thread_summary(thread: Thread) -> dict[str, Any]:
    """A thread in a list."""
    return {
        "id": thread.id,
        "key": thread.key,
        "title": thread.title,
        "url": external(thread_path(thread.id, thread.title)),
        "tags": thread.tag_names,
        "author": user_ref(thread.author),
        "created": iso(thread.created),
        "last_activity": iso(thread.last_activity),
        "score": thread.score,
        "answer_count": thread.answer_count,
        "solved": thread.solved,
        "accepted_answer_id": thread.accepted_answer_id,
        "duplicate_of_id": thread.duplicate_of_id,
    }


def comment_json(comment: Comment) -> dict[str, Any]:
    """A comment."""
    return {
        "id": comment.id,
        "body": comment.body,
        "author": user_ref(comment.author),
        "created": iso(comment.created),
    }


def answer_json(answer: Answer, thread: Thread, comments: list[Comment]) -> dict[str, Any]:
    """An answer with its comments."""
    return {
        "id": answer.id,
        "url": external(thread_path(thread.id, thread.title, answer.id)),
        "body_markdown": answer.body_md,
        "body_html": answer.body_html,
        "author": user_ref(answer.author),
        "created": iso(answer.created),
        "edited": iso(answer.edited),
        "score": answer.score,
        "accepted": answer.id == thread.accepted_answer_id,
        "comments": [comment_json(c) for c in comments],
    }


def thread_full(
    thread: Thread, answers: list[Answer], comments: dict[int | None, list[Comment]]
) -> dict[str, Any]:
    """A thread with its question, answers and comments."""
    return {
        **thread_summary(thread),
        "body_markdown": thread.body_md,
        "body_html": thread.body_html,
        "edited": iso(thread.edited),
        "comments": [comment_json(c) for c in comments.get(None, [])],
        "answers": [answer_json(a, thread, comments.get(a.id, [])) for a in answers],
    }


def article_summary(article: Article) -> dict[str, Any]:
    """An article in a list."""
    return {
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "url": external(article_path(article.slug)),
        "tags": article.tag_names,
        "updated": iso(article.updated),
        "reviewed": iso(article.reviewed),
    }


def article_full(article: Article) -> dict[str, Any]:
    """An article with its body."""
    return {
        **article_summary(article),
        "body_markdown": article.body_md,
        "body_html": article.body_html,
    }
