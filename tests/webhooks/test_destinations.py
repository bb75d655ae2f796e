"""Webhooks only reach public addresses unless KB_WEBHOOK_ALLOW_PRIVATE is set (no SSRF)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.errors import ValidationError
from kb.webhooks import destinations
from kb.webhooks.models import WebhookDelivery, WebhookEndpoint
from kb.webhooks.operations import register_endpoint, send_ping
from kb.webhooks.worker import run_once


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]:9000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_private_and_local_addresses_are_refused(app, staff, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False

    with pytest.raises(ValidationError) as caught:
        register_endpoint(staff, url=url, events=["answer.created"])

    assert "Webhooks only go to public addresses" in str(caught.value)
    assert caught.value.field == "url"
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_public_addresses_and_names_are_accepted(app, staff):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False

    for url in ("https://hooks.example.com/kb", "http://93.184.216.34/hook"):
        register_endpoint(staff, url=url, events=["answer.created"])

    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 2


def test_delivery_to_a_private_address_is_refused_without_a_request(
    app, staff, receiver, make_endpoint
):
    endpoint = make_endpoint(receiver.url)  # registered while local receivers were allowed
    send_ping(endpoint, staff)
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False

    stats = run_once()

    assert receiver.requests == []
    assert stats.delivered == 0
    delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert "refused: 127.0.0.1 is a private, loopback or reserved address" in delivery.last_error


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("127.0.0.53", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("fe80::1%eth0", True),
        ("::ffff:10.0.0.1", True),
    ],
)
def test_which_addresses_count_as_private(address, refused):
    assert destinations._refused(address) is refused
