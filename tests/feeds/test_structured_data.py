"""schema.org JSON-LD: QAPage on thread pages, Article on article pages, safe to embed."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from kb.db import db
from kb.models import Article
from kb.threads import accept_answer
from tests.conftest import login
from tests.feeds.conftest import BASE, hours, stamp

BREAKOUT = "</script><script>alert(1)</script>"


class Scripts(HTMLParser):
    """Every <script> element: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def ld_json(client, path: str) -> list[dict]:
    """The JSON-LD blocks on a page, each checked to carry this response's CSP nonce."""
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    parser = Scripts()
    parser.feed(response.get_data(as_text=True))
    blocks = []
    for attrs, text in parser.scripts:
        if attrs.get("type") == "application/ld+json":
            assert attrs.get("nonce") == nonce
            blocks.append(json.loads(text))
    return blocks


def test_thread_page_describes_the_question_and_visible_answers(
    client, make_thread, make_answer, set_times
):
    thread = make_thread(title="Hub 3 light is amber all day", body="The light is **amber**.")
    set_times(thread, created=hours(1), score=4)
    best, other, hidden = (
        make_answer(thread, body=f"Fix number {n}: restart it.") for n in range(3)
    )
    accept_answer(thread, best, thread.author)
    set_times(best, score=2, created=hours(2))
    set_times(other, score=7, created=hours(3))
    set_times(hidden, hidden=True)

    [data] = ld_json(client, f"/t/{thread.id}")
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "QAPage"
    question = data["mainEntity"]
    author = thread.author.name
    assert question == {
        "@type": "Question",
        "name": "Hub 3 light is amber all day",
        "text": "The light is amber.",
        "answerCount": 2,
        "upvoteCount": 4,
        "dateCreated": stamp(hours(1)),
        "author": {"@type": "Person", "name": author, "url": f"{BASE}/u/{author}"},
        "acceptedAnswer": {
            "@type": "Answer",
            "text": "Fix number 0: restart it.",
            "upvoteCount": 2,
            "dateCreated": stamp(hours(2)),
            "url": f"{BASE}/t/{thread.id}/hub-3-light-is-amber-all-day#answer-{best.id}",
            "author": {
                "@type": "Person",
                "name": best.author.name,
                "url": f"{BASE}/u/{best.author.name}",
            },  # fmt: skip
        },
        "suggestedAnswer": [
            {
                "@type": "Answer",
                "text": "Fix number 1: restart it.",
                "upvoteCount": 7,
                "dateCreated": stamp(hours(3)),
                "url": f"{BASE}/t/{thread.id}/hub-3-light-is-amber-all-day#answer-{other.id}",
                "author": {
                    "@type": "Person",
                    "name": other.author.name,
                    "url": f"{BASE}/u/{other.author.name}",
                },  # fmt: skip
            }
        ],
    }


def test_without_an_accepted_answer_every_answer_is_suggested(client, make_thread, make_answer):
    thread = make_thread()
    answers = [make_answer(thread, body=f"Suggestion {n}: check the cable.") for n in range(2)]
    [data] = ld_json(client, f"/t/{thread.id}")
    question = data["mainEntity"]
    assert "acceptedAnswer" not in question
    assert question["answerCount"] == 2
    urls = [a["url"].rsplit("#", 1)[1] for a in question["suggestedAnswer"]]
    assert sorted(urls) == sorted(f"answer-{a.id}" for a in answers)


def test_unanswered_thread_has_no_answers_in_its_json_ld(client, make_thread):
    [data] = ld_json(client, f"/t/{make_thread().id}")
    assert data["mainEntity"]["answerCount"] == 0
    assert "acceptedAnswer" not in data["mainEntity"]
    assert "suggestedAnswer" not in data["mainEntity"]


def test_a_post_cannot_break_out_of_the_json_ld_script(client, make_thread, make_answer):
    thread = make_thread(
        title=f"Why {BREAKOUT} appears", body=f"The page shows `{BREAKOUT}` & <!-- then stops."
    )
    make_answer(thread, body=f"It is the `{BREAKOUT}` text, nothing to worry about.")
    html = client.get(f"/t/{thread.id}", follow_redirects=True).get_data(as_text=True)
    assert "<script>alert(1)" not in html
    [data] = ld_json(client, f"/t/{thread.id}")
    question = data["mainEntity"]
    assert question["name"] == f"Why {BREAKOUT} appears"
    assert BREAKOUT in question["text"]
    assert BREAKOUT in question["suggestedAnswer"][0]["text"]


def test_hidden_thread_shown_to_a_moderator_has_no_json_ld(
    client, make_user, make_thread, make_answer, set_times
):
    make_user("mona", role="moderator")
    thread = make_thread()
    hidden_answer = set_times(make_answer(thread), hidden=True)
    login(client, "mona")
    page = client.get(f"/t/{thread.id}", follow_redirects=True).get_data(as_text=True)
    assert f'id="answer-{hidden_answer.id}"' in page  # the moderator sees the hidden answer...
    [data] = ld_json(client, f"/t/{thread.id}")
    assert data["mainEntity"]["answerCount"] == 0  # ...but search engines are not told of it
    set_times(thread, hidden=True)
    assert ld_json(client, f"/t/{thread.id}") == []


def test_article_page_has_article_json_ld(client, make_user):
    db.session.add(
        Article(
            slug="reset-hub", title="Reset your Hub 3", summary=f"How to reset {BREAKOUT}",
            body_md="Hold the button.", body_html="<p>Hold the button.</p>", updated=hours(5),
        )
    )  # fmt: skip
    db.session.commit()
    [data] = ld_json(client, "/a/reset-hub")
    assert data == {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": "Reset your Hub 3",
        "description": f"How to reset {BREAKOUT}",
        "dateModified": stamp(hours(5)),
        "url": f"{BASE}/a/reset-hub",
        "mainEntityOfPage": f"{BASE}/a/reset-hub",
        "publisher": {"@type": "Organization", "name": "Skylark", "url": f"{BASE}/"},
    }


def test_draft_article_shown_to_staff_has_no_json_ld(client, make_user):
    make_user("sam", role="staff")
    db.session.add(
        Article(
            slug="draft", title="Draft", summary="Not yet.", body_md="Soon.",
            body_html="<p>Soon.</p>", published=False,
        )
    )  # fmt: skip
    db.session.commit()
    login(client, "sam")
    assert ld_json(client, "/a/draft") == []
