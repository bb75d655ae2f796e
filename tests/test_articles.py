"""Articles: front matter rules, and the real content/ folder."""

from __future__ import annotations

from datetime import datetime

import pytest

from kb.articles import load_articles, parse_article
from kb.errors import ValidationError
from tests.conftest import ROOT

CONTENT = ROOT / "content"


def article(front: str, body: str = "Restart the hub.\n") -> str:
    return f"---\n{front}\n---\n\n{body}"


def test_parse_article_reads_front_matter_and_body():
    parsed = parse_article(
        article(
            "title: Fix an amber light: the full guide\nslug: fix-amber-light\n"
            "tags: [Hub-3, outage lights]\nsummary: What amber means.\nreviewed: 2026-05-04",
            "## Steps\n\nRestart the hub.\n\n",
        ),
        "fix.md",
    )

    assert parsed.title == "Fix an amber light: the full guide"  # a colon in the value
    assert parsed.slug == "fix-amber-light"
    assert parsed.tags == ["hub-3", "outage", "lights"]
    assert parsed.summary == "What amber means."
    assert parsed.reviewed == datetime(2026, 5, 4)
    assert parsed.body == "## Steps\n\nRestart the hub."


def test_optional_fields_and_tag_limit():
    parsed = parse_article(
        article("title: Short one\nslug: short-one\ntags: a, b, c, d, e, f"), "x"
    )

    assert parsed.summary == "" and parsed.reviewed is None
    assert parsed.tags == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: No dashes\nslug: no-dashes\ntags: a\n\nBody", "missing front matter"),
        ("Just a body without any front matter.", "missing front matter"),
        ("---\ntitle: Unclosed\nslug: unclosed\ntags: a\nBody", "missing front matter"),
        (article("title: T\nslug: Bad Slug\ntags: a"), "slug"),
        (article("title: T\nslug: bad_slug\ntags: a"), "slug"),
        (article("title: T\nslug: -leading-dash\ntags: a"), "slug"),
        (article("title: T\nslug: double--dash\ntags: a"), "slug"),
        (article("title: T\ntags: a"), "slug"),
        (article("slug: no-title\ntags: a"), "title"),
        (article("title: T\nslug: s\ntags: bad_tag"), "tags must be"),
        (article("title: T\nslug: s\ntags: ok, wi-fi!"), "tags must be"),
        (article("title: T\nslug: s\ntags: -dash"), "tags must be"),
        (article("title: T\nslug: s"), "tags must be"),
        (article("title: T\nslug: s\ntags: a\nreviewed: May 2026"), "reviewed must be a date"),
    ],
)
def test_parse_article_refuses_bad_front_matter(text, message):
    with pytest.raises(ValidationError) as info:
        parse_article(text, "broken.md")

    assert info.value.message.startswith("broken.md: ")
    assert message in info.value.message


def test_every_real_article_parses_with_a_unique_slug():
    files = sorted(CONTENT.glob("*.md"))

    parsed = [parse_article(p.read_text(encoding="utf-8"), p.name) for p in files]

    assert len(parsed) >= 40
    slugs = [a.slug for a in parsed]
    assert len(set(slugs)) == len(slugs)
    for path, item in zip(files, parsed, strict=True):
        assert item.title and item.body, path.name
        assert item.summary, f"{path.name} has no summary"


def test_the_real_content_folder_loads(app):
    files = list(CONTENT.glob("*.md"))

    counts = load_articles(CONTENT)

    assert counts == {"added": len(files), "updated": 0, "removed": 0, "unchanged": 0}
    assert load_articles(CONTENT)["unchanged"] == len(files)
