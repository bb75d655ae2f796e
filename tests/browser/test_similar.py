"""Similar questions in Chromium: typing a title shows solved threads under it, debounced."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser, expect

from tests.browser.conftest import register

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "Amber means the hub has no signal from the line. Restart the fibre box, then the hub."
THREADS = [
    {
        "key": "similar-solved",
        "title": "Hub 3 light is amber and nothing connects",
        "body": "Since this morning the light on my Hub 3 is amber and no device connects at all.",
        "tags": ["hub-3", "lights"],
        "author": "amber_asker",
        "answers": [{"body": ANSWER, "author": "hub_helper", "score": 3, "accepted": True}],
    },
    {
        "key": "similar-open",
        "title": "Hub 3 amber light flashing every night",
        "body": "Every night around midnight the Hub 3 light flashes amber for a few minutes.",
        "tags": ["hub-3"],
        "author": "night_owl",
    },
    {
        "key": "similar-other",
        "title": "Stream 4K remote will not pair",
        "body": "The remote for my Stream 4K box stopped pairing after I put in new batteries.",
        "tags": ["tv"],
        "author": "telly_fan",
    },
]
TITLE = "Hub 3 amber light and no internet"


def import_threads(live_server: dict[str, Any]) -> None:
    """Load the threads into the running server's database and index with `kb import`."""
    path = live_server["tmp"] / "threads.jsonl"
    path.write_text("\n".join(json.dumps(t) for t in THREADS) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "kb.cli", "import", str(path), "--procs", "1"],
        env=live_server["env"], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and "Imported 3 new" in done.stdout, done.stdout + done.stderr
    # The server's searcher refreshes on its own schedule: wait until it sees the import.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = requests.get(
            live_server["url"] + "/ask/similar", params={"title": "hub amber light"}, timeout=5
        ).json()["threads"]
        if found:
            return
        time.sleep(0.2)
    raise AssertionError("the server never found the imported threads")


def test_typing_a_title_shows_similar_threads(
    browser: Browser, live_server: dict[str, Any], shot: Any
) -> None:
    base = live_server["url"]
    import_threads(live_server)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    register(page, base, "curious_carla")
    lookups: list[str] = []
    page.on("request", lambda r: lookups.append(r.url) if "/ask/similar" in r.url else None)
    page.goto(f"{base}/ask")
    similar = page.locator("#similar")
    expect(similar).to_be_hidden()

    title = page.get_by_label("Title")
    title.press_sequentially(TITLE, delay=40)

    expect(similar).to_be_visible()
    items = similar.locator("#similar-list li")
    expect(items.first).to_contain_text("Hub 3 light is amber and nothing connects")
    expect(items.first.locator(".badge.solved")).to_have_text("Solved")
    expect(items.first.locator("p.muted")).to_have_text(
        "Amber means the hub has no signal from the line."
    )
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_contain_text("Hub 3 amber light flashing every night")
    expect(similar).not_to_contain_text("Stream 4K remote")
    # Debounced: one look-up after the typing stops, not one per key (a slow machine
    # may pause long enough mid-title for a few more).
    assert 1 <= len(lookups) <= 5, lookups
    assert lookups[-1].endswith("title=" + TITLE.replace(" ", "%20"))
    shot(page, "similar-01-suggestions-while-asking")

    # The asker has seen the suggestions, so posting goes straight through.
    page.get_by_label("Details").fill(
        "The Hub 3 light went amber an hour ago and the laptop says there is no internet."
    )
    page.get_by_label("Tags").fill("hub-3 no-internet")
    page.get_by_role("button", name="Post your question").click()
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator(".related")).to_contain_text("Hub 3 light is amber and nothing connects")
    shot(page, "similar-02-posted-with-related")

    # Wiping the title back to a word hides the suggestions again.
    page.goto(f"{base}/ask")
    page.get_by_label("Title").press_sequentially("Hub 3 amber light", delay=20)
    expect(page.locator("#similar")).to_be_visible()
    page.get_by_label("Title").fill("Hub")
    expect(page.locator("#similar")).to_be_hidden()
