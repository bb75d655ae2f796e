"""Notification pages: the list, follow buttons, the private feed, the digest page."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from kb.notifications import digest, feed
from kb.notifications import operations as ops
from kb.urls import external, thread_path
from kb.views import page_arg

bp = Blueprint("notifications", __name__)
log = logging.getLogger(__name__)
FEED_ENTRIES = 50


def _back(default: str) -> Any:
    """Redirect to the form's same-site `next` path, or to `default`."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    # Browsers read /\host as //host, another site: refuse backslashes too.
    if not target.startswith("/") or "\\" in target or target.startswith("//") or parts.netloc:
        target = default
    return redirect(target)


@bp.get("/notifications")
@login_required
def index() -> str:
    """Your notifications, newest first; unread ones stand out."""
    page = page_arg()
    notes, has_next = ops.list_notifications(
        current_user, page=page, per_page=current_app.config["PAGE_SIZE"]
    )
    items = [
        {"note": n, "text": ops.notification_text(n), "url": ops.notification_path(n)}
        for n in notes
    ]
    # Marking is all-at-once, so unread notifications are always the newest: a page without
    # any means there are none left, and the header's COUNT is the only one needed.
    unread = any(n.unread for n in notes)
    return render_template(
        "notifications/index.html", items=items, page=page, has_next=has_next, unread=unread
    )


@bp.post("/notifications/read")
@login_required
def mark_read() -> Any:
    """Mark every notification read."""
    ops.mark_all_read(current_user)
    return redirect(url_for("notifications.index"))


@bp.post("/follow/thread/<id:thread_id>")
@login_required
def follow_thread(thread_id: int) -> Any:
    """Follow a thread."""
    thread = ops.follow_thread(current_user, thread_id)
    flash("You're following this thread: new answers and comments will notify you.", "success")
    return _back(thread_path(thread.id, thread.title))


@bp.post("/unfollow/thread/<id:thread_id>")
@login_required
def unfollow_thread(thread_id: int) -> Any:
    """Stop following a thread."""
    thread = ops.unfollow_thread(current_user, thread_id)
    flash("You've stopped following this thread.", "info")
    return _back(thread_path(thread.id, thread.title))


@bp.post("/follow/tag/<tag>")
@login_required
def follow_tag(tag: str) -> Any:
    """Follow a tag."""
    ops.follow_tag(current_user, tag)
    flash(f"You're following {tag}: new questions will notify you.", "success")
    return _back(url_for("threads.tag", tag=tag))


@bp.post("/unfollow/tag/<tag>")
@login_required
def unfollow_tag(tag: str) -> Any:
    """Stop following a tag."""
    ops.unfollow_tag(current_user, tag)
    flash(f"You've stopped following {tag}.", "info")
    return _back(url_for("threads.tag", tag=tag))


@bp.post("/notifications/feed")
@login_required
def new_feed_token() -> Any:
    """Make a new private feed URL (the old one stops working) and show it once."""
    secret = feed.issue_feed_token(current_user)
    url = external(url_for("notifications.feed_atom", token=secret))
    response = Response(render_template("users/settings.html", errors={}, new_feed_url=url))
    response.headers["Cache-Control"] = "no-store"  # the page holds the secret
    return response


@bp.post("/notifications/feed/revoke")
@login_required
def revoke_feed() -> Any:
    """Turn the private feed off."""
    feed.revoke_feed_tokens(current_user)
    flash("Your private feed URL no longer works.", "info")
    return redirect(url_for("users.settings"))


@bp.get("/notifications/feed/<token>.atom")
def feed_atom(token: str) -> Response:
    """A user's notifications as a private Atom feed; the secret token is the login."""
    user = feed.feed_owner(token)
    if user is None:
        abort(404)
    notes, _ = ops.list_notifications(user, per_page=FEED_ENTRIES)
    body = feed.atom_feed(
        user, notes,
        base_url=current_app.config["PUBLIC_BASE_URL"],
        site_name=current_app.config["SITE_NAME"],
        self_url=external(request.path),
    )  # fmt: skip
    response = Response(body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/digest")
@login_required
def digest_page() -> str:
    """New unanswered questions from the last 24 hours in the tags you follow."""
    return render_template(
        "notifications/digest.html",
        threads=digest.digest_threads(current_user),
        tags=ops.followed_tags(current_user),
        hours=digest.DIGEST_HOURS,
    )


def unread_notifications() -> int:
    """The header's unread count: one COUNT query, and none for anonymous visitors."""
    if not current_user.is_authenticated:
        return 0
    try:
        return ops.unread_count(current_user)
    except SQLAlchemyError:
        # The header must not break an error page rendered after a database failure.
        log.warning("unread count unavailable", exc_info=True)
        return 0


def following_thread(thread_id: int) -> bool:
    """Whether the logged-in user follows a thread (for its Follow button)."""
    return current_user.is_authenticated and ops.is_following(current_user, "thread", thread_id)


def following_tag(name: str) -> bool:
    """Whether the logged-in user follows a tag (for its Follow button)."""
    return current_user.is_authenticated and ops.is_following_tag(current_user, name)


def notification_settings() -> dict[str, Any]:
    """What the settings page shows: followed tags and threads, and the feed's state."""
    return {
        "tags": ops.followed_tags(current_user),
        "threads": ops.followed_threads(current_user),
        "feed_token": feed.active_feed_token(current_user),
    }


def register_template_helpers(app: Flask) -> None:
    """Make the header count, follow state and settings data callable from templates."""
    app.jinja_env.globals.update(
        unread_notifications=unread_notifications,
        following_thread=following_thread,
        following_tag=following_tag,
        notification_settings=notification_settings,
    )
