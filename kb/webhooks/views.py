"""The staff webhook pages: endpoints, their secrets, test pings and the delivery log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from kb.db import db
from kb.errors import OperationError
from kb.views import form_errors, page_arg
from kb.webhooks import operations as ops
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint
from kb.webhooks.outbox import WEBHOOK_EVENTS

bp = Blueprint("webhooks", __name__, url_prefix="/staff/webhooks")
LOG_PAGE_SIZE = 50


@bp.before_request
@login_required
def _staff_only() -> None:
    if not current_user.is_staff:
        abort(403)


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _index(errors: dict[str, str], values: dict[str, Any], status: int = 200) -> Any:
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status_name, count in db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    ):  # fmt: skip
        counts.setdefault(endpoint_id, {})[status_name] = count
    page = render_template(
        "webhooks/index.html", endpoints=endpoints, counts=counts, events=WEBHOOK_EVENTS,
        errors=errors, values=values,
    )  # fmt: skip
    return page, status


@bp.get("")
def index() -> Any:
    """Registered endpoints and the form to add one."""
    return _index({}, {"url": "", "events": []})


@bp.post("")
def register() -> Any:
    """Register an endpoint; its secret is shown on its page."""
    values = {"url": request.form.get("url", ""), "events": request.form.getlist("events")}
    try:
        endpoint = ops.register_endpoint(current_user, url=values["url"], events=values["events"])
    except OperationError as err:
        return _index(form_errors(err), values, err.status)
    flash("Endpoint registered. Copy its secret below to verify signatures.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id))


@bp.get("/<id:endpoint_id>")
def show(endpoint_id: int) -> str:
    """One endpoint: its secret, actions, and the log of its deliveries, newest first."""
    endpoint = _endpoint(endpoint_id)
    page = page_arg()
    rows = db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .offset((page - 1) * LOG_PAGE_SIZE)
        .limit(LOG_PAGE_SIZE + 1)
    ).all()
    return render_template(
        "webhooks/show.html", endpoint=endpoint, deliveries=rows[:LOG_PAGE_SIZE], page=page,
        has_next=len(rows) > LOG_PAGE_SIZE,
    )  # fmt: skip


_MESSAGES = {
    "ping": ("A test ping is queued: it appears in the log once the worker sends it.", "success"),
    "deactivate": ("Deactivated: no new events, and nothing pending is sent.", "info"),
    "activate": ("Active again: pending deliveries go out on the worker's next pass.", "success"),
    "rotate": ("New secret generated: update the receiver, older signatures no longer match.",
               "info"),
}  # fmt: skip


@bp.post("/<id:endpoint_id>")
def act(endpoint_id: int) -> Any:
    """Ping, deactivate, activate, rotate the secret of, or delete an endpoint."""
    endpoint = _endpoint(endpoint_id)
    action = request.form.get("action", "")
    if action == "delete":
        ops.delete_endpoint(endpoint, current_user)
        flash("Endpoint deleted with its delivery log.", "info")
        return redirect(url_for("webhooks.index"))
    if action == "ping":
        ops.send_ping(endpoint, current_user)
    elif action in ("activate", "deactivate"):
        ops.set_endpoint_active(endpoint, current_user, action == "activate")
    elif action == "rotate":
        ops.rotate_secret(endpoint, current_user)
    else:
        abort(400)
    flash(*_MESSAGES[action])
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id))


@bp.post("/deliveries/<id:delivery_id>/retry")
def retry(delivery_id: int) -> Any:
    """Give a failed delivery one more attempt."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        abort(404)
    try:
        ops.retry_delivery(delivery, current_user)
    except OperationError as err:
        flash(err.message, "error")
    else:
        flash(f"Delivery {delivery.id} will be sent again on the worker's next pass.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=delivery.endpoint_id))
