"""Staff operations: URL and event validation, registering, pausing, deleting, pings, retries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.errors import PermissionDenied, ValidationError
from kb.webhooks import operations as ops
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("data:text/html,hi", "Only http:// and https://"),
        ("//example.com/hook", "Only http:// and https://"),
        ("example.com/hook", "Only http:// and https://"),
        ("http://", "no valid host"),
        ("http:///path", "no valid host"),
        ("https://user@/path", "no valid host"),
        ("http://-bad-.example/", "no valid host"),
        ("http://a..b/", "no valid host"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com/\nX-Evil: 1", "control characters"),
        ("https://example.com:0/", "port"),
        ("https://example.com:99999/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("", "Enter the URL"),
        ("https://example.com/" + "a" * 2000, "under 2000"),
    ],
)
def test_check_url_refuses(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        ops.check_url(url)
    assert message in err.value.message
    assert err.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://hooks.example.com/kb?team=support",
        "http://[::1]:9000/",
        "HTTPS://EXAMPLE.COM/in",
        "https://bücher.example/hook",
        "  https://padded.example/hook  ",
    ],
)
def test_check_url_accepts(url: str) -> None:
    assert ops.check_url(url) == url.strip()


def test_check_events() -> None:
    assert ops.check_events(["thread.solved", "answer.created"]) == [
        "answer.created",
        "thread.solved",
    ]
    with pytest.raises(ValidationError, match="at least one"):
        ops.check_events([])
    with pytest.raises(ValidationError, match="Unknown event"):
        ops.check_events(["answer.created", "user.deleted"])


def test_register_endpoint(staff) -> None:
    endpoint = ops.register_endpoint(
        staff, url="https://hooks.example.com/kb", events=["answer.created"]
    )
    assert endpoint.active and endpoint.created_by_id == staff.id
    assert endpoint.events == ["answer.created"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    other = ops.register_endpoint(staff, url="https://x.example/", events=["thread.created"])
    assert other.secret != endpoint.secret


def test_only_staff_manage_webhooks(make_user, make_endpoint) -> None:
    member, moderator = make_user(), make_user(role="moderator")
    for user in (member, moderator):
        with pytest.raises(PermissionDenied):
            ops.register_endpoint(user, url="https://x.example/", events=["answer.created"])
    endpoint = make_endpoint("https://x.example/")
    for action in (
        lambda: ops.set_endpoint_active(endpoint, member, False),
        lambda: ops.rotate_secret(endpoint, member),
        lambda: ops.delete_endpoint(endpoint, member),
        lambda: ops.send_ping(endpoint, member),
    ):
        with pytest.raises(PermissionDenied):
            action()
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1


def test_ping_rotate_and_delete(staff, make_endpoint) -> None:
    endpoint = make_endpoint("https://x.example/", events=["thread.solved"])
    ping = ops.send_ping(endpoint, staff)
    body = json.loads(ping.payload)
    assert body["event"] == "ping" and body["id"] == ping.id
    assert body["data"] == {"endpoint_id": endpoint.id, "url": "https://x.example/",
                            "sent_by": "sam"}  # fmt: skip
    old = endpoint.secret
    assert ops.rotate_secret(endpoint, staff) != old
    ops.delete_endpoint(endpoint, staff)
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_retry_only_failed(staff, make_endpoint) -> None:
    endpoint = make_endpoint("https://x.example/")
    delivery = ops.send_ping(endpoint, staff)
    with pytest.raises(ValidationError, match="Only a failed delivery"):
        ops.retry_delivery(delivery, staff)
    delivery.status, delivery.next_attempt_at = "failed", None
    db.session.commit()
    ops.retry_delivery(delivery, staff)
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
