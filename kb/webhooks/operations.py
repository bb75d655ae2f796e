"""Staff operations on webhooks: register, (de)activate, delete, rotate the secret, ping, retry."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import current_app

from kb.db import db
from kb.errors import PermissionDenied, ValidationError
from kb.models import User, utcnow
from kb.webhooks.destinations import Blocked, check_literal
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint
from kb.webhooks.outbox import WEBHOOK_EVENTS, add_delivery
from kb.webhooks.signing import new_secret

MAX_URL_LENGTH = 2000
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def _staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only staff manage webhooks.")


def _commit() -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.lower().removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)


def check_url(value: object) -> str:
    """An absolute http(s) URL with a host, or a ValidationError naming the `url` field."""
    url = value.strip() if isinstance(value, str) else ""
    if not url:
        raise ValidationError("Enter the URL that should receive the webhooks.", "url")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"Keep the URL under {MAX_URL_LENGTH} characters.", "url")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValidationError("A URL cannot contain spaces or control characters.", "url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed [IPv6] host or port
        raise ValidationError("This is not a valid URL: check its host and port.", "url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(
            "Only http:// and https:// URLs can receive webhooks, e.g. "
            "https://hooks.example.com/kb.",
            "url",
        )
    if port is not None and not 0 < port < 65536:
        raise ValidationError("The port in this URL is not a number from 1 to 65535.", "url")
    if not parts.hostname or not _valid_host(parts.hostname):
        raise ValidationError("This URL has no valid host name, e.g. hooks.example.com.", "url")
    return url


def check_events(values: Iterable[object]) -> list[str]:
    """The chosen event names in canonical order; at least one, all known."""
    chosen = {str(v) for v in values}
    unknown = chosen - set(WEBHOOK_EVENTS)
    if unknown:
        raise ValidationError(f"Unknown event: {sorted(unknown)[0][:40]}.", "events")
    if not chosen:
        raise ValidationError("Choose at least one event to send.", "events")
    return [name for name in WEBHOOK_EVENTS if name in chosen]


def register_endpoint(creator: User, *, url: object, events: Iterable[object]) -> WebhookEndpoint:
    """Register a URL for some events; it gets a fresh signing secret."""
    _staff(creator)
    url_s, names = check_url(url), check_events(events)
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        try:
            check_literal(url_s)
        except Blocked as err:
            raise ValidationError(
                f"Webhooks only go to public addresses: {err}. "
                "Set KB_WEBHOOK_ALLOW_PRIVATE=1 to allow local receivers.",
                "url",
            ) from None
    endpoint = WebhookEndpoint(
        url=url_s, events=names, secret=new_secret(), active=True, created_by_id=creator.id
    )
    db.session.add(endpoint)
    _commit()
    return endpoint


def set_endpoint_active(endpoint: WebhookEndpoint, staff: User, active: bool) -> None:
    """Pause or resume an endpoint; while paused it gets no new events and nothing is sent."""
    _staff(staff)
    endpoint.active = active
    _commit()


def rotate_secret(endpoint: WebhookEndpoint, staff: User) -> str:
    """Replace the signing secret (deliveries sent from now on use the new one)."""
    _staff(staff)
    endpoint.secret = new_secret()
    _commit()
    return endpoint.secret


def delete_endpoint(endpoint: WebhookEndpoint, staff: User) -> None:
    """Remove an endpoint with its delivery log; anything still pending is never sent."""
    _staff(staff)
    db.session.delete(endpoint)
    _commit()


def send_ping(endpoint: WebhookEndpoint, staff: User) -> WebhookDelivery:
    """Queue a signed "ping" delivery so staff can check the receiver end to end."""
    _staff(staff)
    delivery = add_delivery(
        endpoint, "ping", {"endpoint_id": endpoint.id, "url": endpoint.url, "sent_by": staff.name}
    )
    _commit()
    return delivery


def retry_delivery(delivery: WebhookDelivery, staff: User) -> None:
    """Give a failed delivery one more attempt, now (same body, same delivery id)."""
    _staff(staff)
    if delivery.status != "failed":
        raise ValidationError("Only a failed delivery can be retried by hand.")
    delivery.status, delivery.next_attempt_at = "pending", utcnow()
    _commit()
