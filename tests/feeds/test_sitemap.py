"""robots.txt and the sitemap: plain, and split into an index of files past the size limit."""

from __future__ import annotations

import pytest

from kb import feeds
from kb.db import db
from kb.models import Article
from tests.feeds.conftest import BASE, SITEMAP, get_xml, hours, stamp

XML = "application/xml"


def urls(root) -> dict[str, str]:
    """loc -> lastmod for a <urlset>."""
    assert root.tag == f"{SITEMAP}urlset"
    return {u.findtext(f"{SITEMAP}loc"): u.findtext(f"{SITEMAP}lastmod") for u in root}


def add_article(slug: str, *, published: bool = True, updated=None) -> Article:
    article = Article(
        slug=slug, title=slug.replace("-", " ").title(), summary="A summary.", body_md="Body.",
        body_html="<p>Body.</p>", published=published, updated=updated or hours(0),
    )  # fmt: skip
    db.session.add(article)
    db.session.commit()
    return article


def test_robots_allows_all_but_private_pages_and_names_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[:2] == ["User-agent: *", "Allow: /"]
    disallowed = {line.split(": ", 1)[1] for line in lines if line.startswith("Disallow:")}
    assert disallowed == {
        "/ask", "/login", "/register", "/settings", "/concierge", "/staff", "/moderation",
        "/notifications", "/api",
    }  # fmt: skip
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


def test_sitemap_lists_visible_threads_and_published_articles(client, make_thread, set_times):
    quiet = set_times(make_thread(title="Quiet thread about the hub"), last_activity=hours(2))
    edited = set_times(
        make_thread(title="Edited thread about Wi-Fi"), last_activity=hours(1), edited=hours(6)
    )
    hidden = set_times(make_thread(title="Hidden thread about spam"), hidden=True)
    dup = set_times(make_thread(title="Duplicate of the hub one"), duplicate_of_id=quiet.id)
    add_article("reset-your-hub", updated=hours(3))
    add_article("draft-article", published=False)

    listed = urls(get_xml(client, "/sitemap.xml", XML))
    assert listed == {
        f"{BASE}/t/{quiet.id}/quiet-thread-about-the-hub": stamp(hours(2)),
        f"{BASE}/t/{edited.id}/edited-thread-about-wi-fi": stamp(hours(6)),
        f"{BASE}/a/reset-your-hub": stamp(hours(3)),
    }
    assert not any(f"/t/{t.id}/" in loc for t in (hidden, dup) for loc in listed)


def test_empty_sitemap_is_a_valid_urlset(client):
    assert urls(get_xml(client, "/sitemap.xml", XML)) == {}
    assert urls(get_xml(client, "/sitemaps/1.xml", XML)) == {}


def test_sitemap_splits_into_an_index_past_the_page_size(client, make_thread, monkeypatch):
    monkeypatch.setattr(feeds, "SITEMAP_PAGE_SIZE", 3)
    threads = [make_thread(title=f"Split sitemap question {n}") for n in range(7)]
    index = get_xml(client, "/sitemap.xml", XML)
    assert index.tag == f"{SITEMAP}sitemapindex"
    locations = [s.findtext(f"{SITEMAP}loc") for s in index]
    assert locations == [f"{BASE}/sitemaps/{n}.xml" for n in (1, 2, 3)]

    pages = [urls(get_xml(client, loc.removeprefix(BASE), XML)) for loc in locations]
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [loc for page in pages for loc in page]
    assert seen == [f"{BASE}/t/{t.id}/split-sitemap-question-{n}" for n, t in enumerate(threads)]
    assert client.get("/sitemaps/4.xml").status_code == 404
    assert client.get("/sitemaps/0.xml").status_code == 404


def test_split_sitemap_continues_from_threads_into_articles(client, make_thread, monkeypatch):
    monkeypatch.setattr(feeds, "SITEMAP_PAGE_SIZE", 3)
    for n in range(4):
        make_thread(title=f"Thread before articles {n}")
    for slug in ("article-one", "article-two", "article-three"):
        add_article(slug)
    pages = [urls(get_xml(client, f"/sitemaps/{n}.xml", XML)) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert list(pages[1])[1:] == [f"{BASE}/a/article-one", f"{BASE}/a/article-two"]
    assert list(pages[2]) == [f"{BASE}/a/article-three"]


@pytest.mark.parametrize(
    "path",
    [
        "/sitemaps/abc.xml",
        "/sitemaps/99999999999999999999.xml",
        "/sitemaps/999999999999999999.xml",
        "/sitemaps/-1.xml",
    ],
)
def test_odd_sitemap_pages_are_missing(client, path):
    assert client.get(path).status_code == 404
