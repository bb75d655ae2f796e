"""The staff webhook pages: access, registering with validation, actions and the delivery log."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from kb.db import db
from kb.webhooks import worker
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import login, post_form


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def flashes(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<p class="flash flash-(\w+)">(.*?)</p>', html)


@pytest.fixture
def staff_client(client, staff):
    login(client, "sam")
    return client


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/staff/webhooks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_non_staff_get_403(client, make_user, make_endpoint, role):
    endpoint = make_endpoint("https://hooks.example/kb")
    make_user("kim", role=role)
    login(client, "kim")
    assert "/staff/webhooks" not in client.get("/").get_data(as_text=True)  # no nav link
    for path in ("/staff/webhooks", f"/staff/webhooks/{endpoint.id}"):
        assert client.get(path).status_code == 403
    data = {"url": "https://evil.example/", "events": ["answer.created"]}
    assert post_form(client, "/staff/webhooks", data).status_code == 403
    delete = post_form(client, f"/staff/webhooks/{endpoint.id}", {"action": "delete"})
    assert delete.status_code == 403
    assert count(WebhookEndpoint) == 1


@pytest.mark.parametrize(
    "url", ["ftp://files.example/in", "javascript:alert(1)", "http://", "file:///etc/passwd"]
)
def test_bad_urls_are_refused_next_to_the_field(staff_client, url):
    response = post_form(
        staff_client, "/staff/webhooks", {"url": url, "events": ["answer.created"]},
        token_from="/staff/webhooks",
    )  # fmt: skip
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="url-error" role="alert">(.*?)</p>', html)
    assert error and ("http:// and https://" in error.group(1) or "host" in error.group(1))
    assert 'aria-invalid="true"' in html and f'value="{escape(url)}"' in html
    assert 'value="answer.created" checked' in html  # the choices survive the error
    assert count(WebhookEndpoint) == 0


def test_csrf_is_required(staff_client):
    response = staff_client.post(
        "/staff/webhooks", data={"url": "https://a.example/", "events": ["answer.created"]}
    )
    assert response.status_code == 400 and count(WebhookEndpoint) == 0


def test_register_ping_and_read_the_log(staff_client, receiver):
    assert "/staff/webhooks" in staff_client.get("/").get_data(as_text=True)  # nav link
    page = staff_client.get("/staff/webhooks").get_data(as_text=True)
    assert 'name="events" value="thread.solved"' in page and "No endpoints yet" in page
    missing = post_form(staff_client, "/staff/webhooks", {"url": receiver.url},
                        token_from="/staff/webhooks")  # fmt: skip
    assert 'id="events-error"' in missing.get_data(as_text=True)

    response = post_form(
        staff_client, "/staff/webhooks",
        {"url": receiver.url, "events": ["answer.created", "thread.solved"]},
        token_from="/staff/webhooks",
    )  # fmt: skip
    assert response.status_code == 302
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert endpoint.events == ["answer.created", "thread.solved"]
    show = f"/staff/webhooks/{endpoint.id}"
    assert response.headers["Location"].endswith(show)
    html = staff_client.get(show).get_data(as_text=True)
    assert endpoint.secret in html and "Nothing sent yet" in html

    receiver.respond(500, "receiver exploded")
    pinged = post_form(staff_client, show, {"action": "ping"}, token_from=show)
    assert pinged.status_code == 302
    worker.run_once()
    html = staff_client.get(show).get_data(as_text=True)
    assert ("success", "A test ping is queued: it appears in the log once the worker sends it.") \
        in flashes(html)  # fmt: skip
    assert "HTTP 500" in html and "receiver exploded" in html and "<code>ping</code>" in html
    assert receiver.requests[0].headers["X-KB-Event"] == "ping"
    index = staff_client.get("/staff/webhooks").get_data(as_text=True)
    assert escape(receiver.url) in index


def test_deactivate_rotate_retry_delete(staff_client, staff, make_endpoint):
    endpoint = make_endpoint("https://hooks.example/kb")
    show = f"/staff/webhooks/{endpoint.id}"
    secret = endpoint.secret
    post_form(staff_client, show, {"action": "deactivate"}, token_from=show)
    db.session.refresh(endpoint)
    assert not endpoint.active
    assert "inactive: nothing is sent" in staff_client.get(show).get_data(as_text=True)
    post_form(staff_client, show, {"action": "activate"}, token_from=show)
    post_form(staff_client, show, {"action": "rotate"}, token_from=show)
    db.session.refresh(endpoint)
    assert endpoint.active and endpoint.secret != secret
    assert post_form(staff_client, show, {"action": "explode"}, token_from=show).status_code == 400

    post_form(staff_client, show, {"action": "ping"}, token_from=show)
    delivery = db.session.scalar(select(WebhookDelivery))
    delivery.status, delivery.next_attempt_at = "failed", None
    db.session.commit()
    assert 'action="/staff/webhooks/deliveries/' in staff_client.get(show).get_data(as_text=True)
    retry = post_form(staff_client, f"/staff/webhooks/deliveries/{delivery.id}/retry", {},
                      token_from=show)  # fmt: skip
    assert retry.status_code == 302
    db.session.refresh(delivery)
    assert delivery.status == "pending"

    deleted = post_form(staff_client, show, {"action": "delete"}, token_from=show)
    assert deleted.headers["Location"].endswith("/staff/webhooks")
    assert count(WebhookEndpoint) == 0 and count(WebhookDelivery) == 0
    assert staff_client.get(show).status_code == 404
