"""The `kb` commands: init (articles, demo), reindex, match."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from kb.db import db
from kb.models import Article, IndexJob, Thread, User
from kb.search.service import run_search

ARTICLES = {
    "amber-light.md": (
        "---\ntitle: What an amber light on the hub means\nslug: amber-light\n"
        "tags: hub-3, lights\nsummary: Amber means no line signal.\n---\n\n"
        "An **amber** light means the hub cannot reach the network.\n"
    ),
    "price-change.md": (
        "---\ntitle: Why your bill goes up in April\nslug: price-change\ntags: billing\n"
        "summary: The yearly price change.\n---\n\nPrices change every April by a set amount.\n"
    ),
    "move-home.md": (
        "---\ntitle: Moving home with Skylark\nslug: move-home\ntags: moving\n"
        "summary: Take your service with you.\n---\n\nTell us your new address a month ahead.\n"
    ),
}


def count(model: type) -> int:
    value = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return int(value or 0)


def article_titles(query: str) -> list[str]:
    return [h.title for h in run_search(query, kind="article").hits]


@pytest.fixture
def content(app) -> Path:
    """The app's CONTENT_DIR with three article files."""
    folder = Path(app.config["CONTENT_DIR"])
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_init_loads_articles_and_builds_the_index(runner, content):
    result = runner.invoke(args=["init"])

    assert result.exit_code == 0, result.output
    assert "Articles: 3 added, 0 updated, 0 removed, 0 unchanged." in result.output
    assert "Search index built: 3 documents" in result.output
    assert sorted(db.session.scalars(select(Article.slug))) == [
        "amber-light",
        "move-home",
        "price-change",
    ]
    assert article_titles("amber light") == ["What an amber light on the hub means"]
    assert count(IndexJob) == 0


def test_init_again_updates_by_slug_and_removes_gone_files(runner, content):
    assert runner.invoke(args=["init"]).exit_code == 0
    amber_id = db.session.scalar(select(Article.id).where(Article.slug == "amber-light"))
    db.session.rollback()
    (content / "amber-light.md").write_text(
        ARTICLES["amber-light.md"].replace("What an amber light", "What a flashing amber light"),
        encoding="utf-8",
    )
    (content / "move-home.md").unlink()

    result = runner.invoke(args=["init"])

    assert result.exit_code == 0, result.output
    assert "Articles: 0 added, 1 updated, 1 removed, 1 unchanged." in result.output
    rows = {a.slug: a for a in db.session.scalars(select(Article))}
    assert sorted(rows) == ["amber-light", "price-change"]
    assert rows["amber-light"].id == amber_id
    assert rows["amber-light"].title == "What a flashing amber light on the hub means"
    assert article_titles("flashing amber") == ["What a flashing amber light on the hub means"]
    assert article_titles("moving address") == []


def test_init_adds_columns_that_an_older_database_lacks(runner, content):
    assert runner.invoke(args=["init"]).exit_code == 0
    db.session.execute(
        sql("ALTER TABLE threads DROP COLUMN edited")
    )  # as an older checkout made it
    db.session.commit()

    result = runner.invoke(args=["init"])

    assert result.exit_code == 0, result.output
    assert "Database upgraded: added threads.edited." in result.output
    db.session.execute(sql("SELECT edited FROM threads"))
    assert "Database upgraded" not in runner.invoke(args=["init"]).output


def test_init_refuses_a_broken_article_file(runner, content):
    (content / "broken.md").write_text("no front matter here\n", encoding="utf-8")

    result = runner.invoke(args=["init"])

    assert result.exit_code != 0
    assert "broken.md" in str(result.exception)
    assert count(Article) == 0


def test_init_demo_creates_the_demo_community(runner, content):
    result = runner.invoke(args=["init", "--demo"])

    assert result.exit_code == 0, result.output
    assert "Demo community:" in result.output
    assert "demo line" not in result.output  # no bad lines in the demo file
    threads = count(Thread)
    assert threads >= 60
    assert count(User) >= 8
    solved = db.session.scalar(
        select(func.count()).select_from(Thread).where(Thread.accepted_answer_id.is_not(None))
    )
    assert 0 < solved < threads
    staff = db.session.scalar(select(User).where(User.name == "sam_skylark"))
    assert staff is not None and staff.role == "staff"
    assert f"Search index built: {threads + 3} documents" in result.output
    assert run_search("amber light hub", kind="thread").hits
    db.session.rollback()

    again = runner.invoke(args=["init", "--demo"])  # idempotent: updates, never duplicates

    assert again.exit_code == 0, again.output
    assert "0 users created, 0 threads added" in again.output
    assert count(Thread) == threads


def test_reindex_rebuilds_from_the_database(app, runner, make_thread):
    make_thread(title="Landline crackles whenever it rains")
    make_thread(title="Freeview channels vanished after retune")
    app.extensions["kb_search"].close()
    shutil.rmtree(app.config["INDEX_DIR"])

    result = runner.invoke(args=["reindex"])

    assert result.exit_code == 0, result.output
    assert "Indexed 2 documents" in result.output
    assert [h.title for h in run_search("crackles").hits] == ["Landline crackles whenever it rains"]


@pytest.fixture
def threads(make_thread):
    return [
        make_thread(title="Router drops wifi every evening", body="The wifi drops at eight."),
        make_thread(title="Router lights flash orange and green", body="Flashing router lights."),
        make_thread(
            title="Bill went up in April", body="Why is my bill higher now?", tags=["billing"]
        ),
    ]


def test_match_json_prints_one_array(runner, threads):
    result = runner.invoke(args=["match", "router wifi drops in the evening", "--json"])

    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert isinstance(hits, list)
    assert [h["id"] for h in hits][:2] == [threads[0].id, threads[1].id]
    assert hits[0]["title"] == "Router drops wifi every evening"
    assert hits[0]["url"].startswith("https://kb.skylark.example/t/")
    assert set(hits[0]) >= {"kind", "id", "key", "title", "url", "score"}


def test_match_limit(runner, threads):
    def ids(*limit: str) -> list[int]:
        result = runner.invoke(args=["match", "router", "--json", *limit])
        assert result.exit_code == 0, result.output
        return [h["id"] for h in json.loads(result.output)]

    assert sorted(ids()) == [threads[0].id, threads[1].id]
    assert ids("--limit", "1") == ids()[:1]
    assert runner.invoke(args=["match", "router", "--limit", "0"]).exit_code == 2


def test_match_reads_one_question_per_stdin_line(runner, threads):
    result = runner.invoke(
        args=["match", "--limit", "1"], input="router wifi evening\nbill april\n\nzzzqqq\n"
    )

    assert result.exit_code == 0, result.output
    arrays = [json.loads(line) for line in result.output.splitlines()]
    assert len(arrays) == 4
    assert [h["id"] for h in arrays[0]] == [threads[0].id]
    assert [h["id"] for h in arrays[1]] == [threads[2].id]
    assert arrays[2] == [] and arrays[3] == []


def test_match_without_json_is_readable(runner, threads):
    result = runner.invoke(args=["match", "bill april"])

    assert result.exit_code == 0, result.output
    assert "Bill went up in April" in result.output
    assert "https://kb.skylark.example/t/" in result.output
    assert runner.invoke(args=["match", "zzzqqq"]).output.strip() == "No match."
