"""`kb eval` on a tiny corpus where the right answer to every query is known."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from kb.articles import load_articles
from kb.db import db
from kb.errors import ValidationError
from kb.evaluation import evaluate, read_cases
from kb.search.indexer import process_pending
from kb.search.service import match
from kb.threads import accept_answer

TINY = Path(__file__).parent / "data" / "eval_tiny.jsonl"
ARTICLES = {
    "reset-mail-password": (
        "Reset your Skylark Mail password", "email, password",
        "Forgotten your Skylark Mail password? Reset it from the sign-in page.",
        "Go to the sign-in page, choose Forgot password and follow the link we email you.",
    ),
    "set-up-stream-4k": (
        "Set up the Stream 4K box", "tv, stream-4k",
        "Connect the Stream 4K box to your TV in ten minutes.",
        "Plug the box into the TV with the HDMI cable, then pick your Wi-Fi network on screen.",
    ),
}  # fmt: skip


@pytest.fixture
def tiny(app, make_user, make_thread, make_answer) -> dict[str, Any]:
    """Two articles and two solved threads (keys tiny-wifi and tiny-amber)."""
    app.config["INDEX_SYNC"] = False  # index everything in one batch: quicker
    content = Path(app.config["CONTENT_DIR"])
    content.mkdir(parents=True, exist_ok=True)
    for slug, (title, tags, summary, body) in ARTICLES.items():
        front = f"---\ntitle: {title}\nslug: {slug}\ntags: {tags}\nsummary: {summary}\n---\n\n"
        (content / f"{slug}.md").write_text(front + body + "\n", encoding="utf-8")
    load_articles(content)
    asker = make_user("asker")
    wifi = make_thread(
        title="Wi-Fi drops every evening at eight", tags=("wifi",), author=asker,
        body="The Wi-Fi drops every evening around eight and comes back after an hour.",
    )  # fmt: skip
    accept_answer(
        wifi,
        make_answer(wifi, body="Move the hub away from the TV and set Wi-Fi channel 1."),
        asker,
    )
    amber = make_thread(
        title="Hub 3 light is amber and nothing connects", tags=("hub-3",), author=asker,
        body="Since this morning the light on my Hub 3 is amber and no device connects.",
    )  # fmt: skip
    accept_answer(
        amber,
        make_answer(amber, body="Amber means no signal from the line. Restart the box."),
        asker,
    )
    wifi.key, amber.key = "tiny-wifi", "tiny-amber"
    db.session.commit()
    process_pending()
    app.config["INDEX_SYNC"] = True
    return {"wifi": wifi, "amber": amber}


# Per query (match): ranks 1, 1, 1, 1 (one of two relevant found), none.
NDCG_Q4 = 1 / (1 + 1 / math.log2(3))
EXPECTED_MATCH = {
    "queries": 5,
    "p_at_1": 0.8,
    "mrr": 0.8,
    "recall_at_10": 0.7,
    "ndcg_at_10": round((3 + NDCG_Q4) / 5, 4),
}
# Titles only: queries 1 and 2 at rank 1; no relevant title shares a word with the rest.
EXPECTED_BASELINE = {
    "queries": 5,
    "p_at_1": 0.4,
    "mrr": 0.4,
    "recall_at_10": 0.4,
    "ndcg_at_10": 0.4,
}


def test_the_tiny_set_ranks_as_designed(tiny):
    ranked = {
        q: [h["key"] for h in match(q, limit=10)]
        for q, _ in read_cases(TINY.read_text("utf-8").splitlines())
    }

    assert ranked["forgot my mail password"][0] == "reset-mail-password"
    assert ranked["wifi drops in the evening"][0] == "tiny-wifi"
    assert ranked["no signal from the line"][0] == "tiny-amber"
    assert ranked["the tv box says no signal"][0] == "tiny-amber"
    assert ranked["quantum toaster"] == []
    # A thread's id counts as well as its key.
    by_id = evaluate(
        [("wifi drops in the evening", [str(tiny["wifi"].id)])], lambda q: match(q, limit=10)
    )
    assert (by_id.p_at_1, by_id.mrr, by_id.recall_at_10) == (1.0, 1.0, 1.0)


def test_eval_prints_the_scores_as_text_and_json(runner, tiny):
    result = runner.invoke(args=["eval", str(TINY)])
    as_json = runner.invoke(args=["eval", str(TINY), "--json"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "matcher (kb match) on 5 queries"
    assert "  P@1        0.800" in lines
    assert "  MRR        0.800" in lines
    assert f"  nDCG@10    {EXPECTED_MATCH['ndcg_at_10']:.3f}" in lines
    assert "  Recall@10  0.700" in lines
    assert lines[-1].startswith("  latency    p50 ") and "ms, p95 " in lines[-1]
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["matcher"] == "match"
    assert {k: data[k] for k in EXPECTED_MATCH} == EXPECTED_MATCH
    assert 0 <= data["latency_p50_ms"] <= data["latency_p95_ms"]


def test_eval_baseline(runner, tiny):
    result = runner.invoke(args=["eval", str(TINY), "--baseline", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["matcher"] == "baseline"
    assert {k: data[k] for k in EXPECTED_BASELINE} == EXPECTED_BASELINE
    text = runner.invoke(args=["eval", str(TINY), "--baseline"]).output
    assert text.startswith("baseline (BM25 over titles) on 5 queries")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"query": "ok", "relevant": ["a"]}\n{not json}', "line 2: not valid JSON"),
        ('{"query": "no relevant list"}', "line 1: needs a 'query' string and a 'relevant' list"),
        ('\n{"query": "x", "relevant": []}', "line 2: needs a 'query' string"),
        ('{"query": "x", "relevant": "tiny-wifi"}', "line 1: needs a 'query' string"),
        ('{"query": 7, "relevant": ["a"]}', "line 1: needs a 'query' string"),
        ('["query", "relevant"]', "line 1: needs a 'query' string"),
        ("\n   \n", "no queries"),
    ],
)
def test_a_malformed_line_is_named(content, message):
    with pytest.raises(ValidationError) as err:
        read_cases(content.splitlines())

    assert err.value.message.startswith(message)


def test_a_malformed_eval_file_is_a_clear_error(runner, app, tmp_path):
    bad, empty, binary = (tmp_path / f"{n}.jsonl" for n in ("bad", "empty", "binary"))
    bad.write_text('{"query": "ok", "relevant": ["a"]}\n{not json}\n', encoding="utf-8")
    empty.write_text("\n  \n", encoding="utf-8")
    binary.write_bytes(b'\xff\xfe{"query": "x"}\x00')

    for path, message in (
        (bad, "Error: line 2: not valid JSON ("),
        (empty, "Error: no queries"),
        (binary, f"Error: {binary}: not UTF-8 text"),
    ):
        result = runner.invoke(args=["eval", str(path)])

        assert result.exit_code == 1, path
        assert result.output.startswith(message), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)

    missing = runner.invoke(args=["eval", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
