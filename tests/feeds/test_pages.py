"""Pages link their feeds and canonical URLs; every new URL answers 200 or 404, never 500."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from kb.db import db
from kb.models import Tag
from tests.feeds.conftest import BASE


@pytest.fixture
def router_tag(app) -> Tag:
    """The tag "router", without the cost of asking a question."""
    tag = Tag(name="router")
    db.session.add(tag)
    db.session.commit()
    return tag


class HeadLinks(HTMLParser):
    """<link> tags: canonical hrefs and Atom alternates."""

    def __init__(self) -> None:
        super().__init__()
        self.canonical: list[str] = []
        self.feeds: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag != "link":
            return
        if values.get("rel") == "canonical":
            self.canonical.append(values.get("href") or "")
        elif values.get("rel") == "alternate" and values.get("type") == "application/atom+xml":
            self.feeds.append(values.get("href") or "")


def links(client, path: str) -> HeadLinks:
    response = client.get(path)
    assert response.status_code == 200, path
    parser = HeadLinks()
    parser.feed(response.get_data(as_text=True))
    return parser


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/", "/"),
        ("/?tab=recent&page=1&utm_source=x", "/"),
        ("/?tab=solved", "/?tab=solved"),
        ("/?tab=bogus&page=2", "/?page=2"),
        ("/tags/router", "/tags/router"),
        ("/tags/router?tab=unanswered&page=3&ref=mail", "/tags/router?tab=unanswered&page=3"),
    ],
)
def test_home_and_tag_pages_have_canonical_urls(client, router_tag, path, canonical):
    assert links(client, path).canonical == [BASE + canonical]


def test_pages_link_their_feeds_and_the_feeds_work(client, make_thread, set_times):
    thread = make_thread(tags=["router"])
    duplicate = set_times(
        make_thread(title="Another amber light question"), duplicate_of_id=thread.id
    )
    pages = {
        "/": ["/feeds/recent.atom", "/feeds/unanswered.atom", "/feeds/solved.atom"],
        "/tags/router": ["/feeds/recent.atom", "/feeds/tags/router.atom"],
        f"/t/{thread.id}/{thread.slug}": ["/feeds/recent.atom", f"/t/{thread.id}/feed.atom"],
        f"/t/{duplicate.id}/{duplicate.slug}": ["/feeds/recent.atom"],
        "/articles": ["/feeds/recent.atom"],
    }
    for page, expected in pages.items():
        assert links(client, page).feeds == expected, page
        for feed in expected:
            response = client.get(feed)
            assert response.status_code == 200, feed
            assert response.mimetype == "application/atom+xml"


@pytest.mark.parametrize(
    "path", ["/feeds/recent.atom", "/feeds/unanswered.atom", "/feeds/solved.atom",
             "/feeds/tags/router.atom", "/robots.txt", "/sitemap.xml", "/sitemaps/1.xml"],
)  # fmt: skip
def test_every_new_page_answers(client, router_tag, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/tags/../x",
        "/feeds/tags/..%2Fx.atom",
        "/feeds/tags/unknown.atom",
        "/feeds/tags/Router.atom",
        "/feeds/tags/router.atom.atom",
        "/feeds/tags/%00.atom",
        "/feeds/tags/" + "a" * 31 + ".atom",
        "/feeds/tags/%F0%9F%90%8D.atom",
        "/feeds/other.atom",
        "/feeds/recent.rss",
        "/t/0/feed.atom",
        "/t/999999999999999999/feed.atom",
        "/t/99999999999999999999999/feed.atom",
        "/t/-1/feed.atom",
    ],
)
def test_odd_feed_urls_are_missing_not_errors(client, router_tag, path):
    assert client.get(path).status_code == 404
