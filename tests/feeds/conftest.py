"""Helpers for the feed, sitemap and structured-data tests: XML parsing and fixed times."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.db import db

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
BASE = "https://kb.skylark.example"
TAG = "tag:kb.skylark.example,2026:"
START = datetime(2026, 3, 1, 9, 0, 0)


def hours(n: float) -> datetime:
    """A fixed time, n hours after the start of the test calendar."""
    return START + timedelta(hours=n)


def stamp(value: datetime) -> str:
    """The RFC 3339 text the feeds should carry for a stored time."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def get_xml(client: FlaskClient, path: str, mimetype: str) -> ET.Element:
    """GET a path, check it is 200 with the expected type, and parse it."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.mimetype == mimetype, response.headers["Content-Type"]
    return ET.fromstring(response.get_data())


def atom(client: FlaskClient, path: str) -> ET.Element:
    """An Atom feed's root element (checked to be an Atom 1.0 feed)."""
    root = get_xml(client, path, "application/atom+xml")
    assert root.tag == f"{ATOM}feed"
    return root


def entries(feed: ET.Element) -> list[ET.Element]:
    """The feed's entries, in document order."""
    return feed.findall(f"{ATOM}entry")


def text(element: ET.Element, name: str) -> str:
    """The text of a child Atom element."""
    child = element.find(f"{ATOM}{name}")
    assert child is not None, name
    return child.text or ""


@pytest.fixture
def set_times(app: Flask) -> Callable[..., Any]:
    """Give a post fixed timestamps: set_times(thread, created=..., last_activity=...)."""

    def set_(post: Any, **fields: datetime | None) -> Any:
        for name, value in fields.items():
            setattr(post, name, value)
        db.session.commit()
        return post

    return set_
