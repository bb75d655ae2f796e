"""Link previews: X card and Open Graph tags on thread and article pages."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from kb.db import db
from kb.models import Article
from kb.threads import accept_answer

NASTY_TITLE = "Why does \"Hub 3\" say <script>alert(1)</script> & then 'reboot'?"


class MetaTags(HTMLParser):
    """Collects <meta> tags by property or name, and counts every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.scripts = 0
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key:
                self.meta.setdefault(key, []).append(values.get("content") or "")
        elif tag == "script":
            self.scripts += 1
        elif tag == "link" and values.get("rel"):
            self.links[values["rel"] or ""] = values.get("href") or ""


def preview(client, path: str) -> MetaTags:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200
    parser = MetaTags()
    parser.feed(response.get_data(as_text=True))
    for key, values in parser.meta.items():
        assert len(values) == 1, f"{key} appears {len(values)} times"
    return parser


def one(tags: MetaTags, key: str) -> str:
    return tags.meta[key][0]


def test_open_thread_uses_the_question(client, make_thread, make_answer):
    thread = make_thread(
        title="Hub 3 light is amber",
        body="Since this morning the light is amber. Nothing connects at all!",
    )
    make_answer(thread, body="Hold the power button for ten seconds. Then wait.")
    tags = preview(client, f"/t/{thread.id}")
    assert one(tags, "og:title") == "Hub 3 light is amber"
    assert one(tags, "twitter:title") == "Hub 3 light is amber"
    assert one(tags, "og:description") == "Since this morning the light is amber."
    assert one(tags, "twitter:description") == "Since this morning the light is amber."
    assert one(tags, "description") == "Since this morning the light is amber."
    assert one(tags, "twitter:card") == "summary"
    assert one(tags, "og:type") == "article"
    url = f"https://kb.skylark.example/t/{thread.id}/hub-3-light-is-amber"
    assert one(tags, "og:url") == url
    assert tags.links["canonical"] == url
    assert one(tags, "og:image").startswith("https://kb.skylark.example/static/")


def test_solved_thread_uses_the_accepted_answers_opening_sentence(
    client, make_user, make_thread, make_answer
):
    asker = make_user("asker")
    thread = make_thread(body="My hub is amber. Please help me.", author=asker)
    make_answer(thread, body="Have you tried turning it off? Probably not the fix.")
    accepted = make_answer(
        thread, body="**Hold** the power button for ten seconds. The light turns white."
    )
    accept_answer(thread, accepted, asker)
    tags = preview(client, f"/t/{thread.id}")
    assert one(tags, "og:description") == "Hold the power button for ten seconds."
    assert one(tags, "twitter:description") == "Hold the power button for ten seconds."


def test_long_opening_sentence_is_cut_on_a_word(client, make_thread):
    body = "word " * 120 + "end."
    thread = make_thread(body=body)
    description = one(preview(client, f"/t/{thread.id}"), "og:description")
    assert len(description) <= 200
    assert description.endswith("…")
    assert "word wor…" not in description


def test_article_uses_its_summary(app, client):
    content = Path(app.config["CONTENT_DIR"])
    content.mkdir(parents=True, exist_ok=True)
    (content / "reset.md").write_text(
        "---\ntitle: Reset your Hub 3\nslug: reset-hub-3\ntags: router\n"
        "summary: Restart or factory-reset the Hub 3 when its light is amber.\n---\n\n"
        "First sentence of the body. Second.\n",
        encoding="utf-8",
    )
    from kb.articles import load_articles

    load_articles(content)
    tags = preview(client, "/a/reset-hub-3")
    assert one(tags, "og:title") == "Reset your Hub 3"
    summary = "Restart or factory-reset the Hub 3 when its light is amber."
    assert one(tags, "og:description") == summary
    assert one(tags, "twitter:description") == summary
    assert one(tags, "twitter:card") == "summary"
    assert one(tags, "og:url") == "https://kb.skylark.example/a/reset-hub-3"


def test_thread_values_are_escaped(client, make_thread):
    # Code spans keep markup as text, so the preview text itself holds quotes and tags.
    thread = make_thread(
        title=NASTY_TITLE,
        body='The app shows `"><script>alert(2)</script>` & the light blinks. More text.',
    )
    response = client.get(f"/t/{thread.id}", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "<script>alert(" not in html
    tags = preview(client, f"/t/{thread.id}")
    assert one(tags, "og:title") == NASTY_TITLE
    assert one(tags, "twitter:title") == NASTY_TITLE
    expected = 'The app shows "><script>alert(2)</script> & the light blinks.'
    assert one(tags, "og:description") == expected
    assert one(tags, "twitter:description") == expected
    assert one(tags, "description") == expected
    # Only the page's own scripts (with their nonce) are scripts.
    assert tags.scripts == html.count("<script nonce=")


def test_article_values_are_escaped(app, client):
    db.session.add(
        Article(
            slug="quoted", title=NASTY_TITLE, summary='Say "hi" <img src=x onerror=alert(1)>',
            body_md="Body.", body_html="<p>Body.</p>",
        )
    )  # fmt: skip
    db.session.commit()
    response = client.get("/a/quoted")
    html = response.get_data(as_text=True)
    assert "<img src=x" not in html and "<script>alert(" not in html
    tags = preview(client, "/a/quoted")
    assert one(tags, "og:title") == NASTY_TITLE
    assert one(tags, "og:description") == 'Say "hi" <img src=x onerror=alert(1)>'
    assert one(tags, "twitter:description") == 'Say "hi" <img src=x onerror=alert(1)>'
    assert db.session.scalar(select(Article.id).where(Article.slug == "quoted"))
