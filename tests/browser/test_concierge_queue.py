"""The concierge end to end: a customer's post on the X stand-in, a draft, approval in Chromium,
and the reply posted on the stand-in in reply to that post."""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, expect

from kb.concierge.demo import DEMO_SETTINGS
from tests.browser.conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = re.compile(r"X stand-in listening on (http://\S+)")
PASSWORD = "concierge-staff-pass"
SOLVED = {
    "key": "browser-hub-amber",
    "title": "Hub 3 light is amber and nothing connects",
    "body": "Since this morning the light on my Hub 3 is amber and no device connects at all.",
    "tags": ["hub-3", "lights"],
    "author": "amber_asker",
    "created": "2026-05-02T08:14:00Z",
    "answers": [
        {
            "body": "Hold the power button for ten seconds; the light turns white again.",
            "author": "hub_helper",
            "score": 4,
            "accepted": True,
        }
    ],
}
CUSTOMER_POST = "@SkylarkHelps my hub 3 light is amber and nothing connects, help?"
UNKNOWN_POST = "@SkylarkHelps @next_door_ned how do I pair my smart fridge with the toaster?"


def _standin_url(proc: subprocess.Popen[str], timeout: float = 15.0) -> str:
    """The base URL from the stand-in's first line, 'X stand-in listening on http://HOST:PORT'."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            match = READY_LINE.search(line)
            if match:
                return match.group(1)
    raise RuntimeError("the X stand-in did not say where it listens")


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[str]:
    """`python -m kb.concierge.standin --port 0` in a subprocess; yields its base URL."""
    log = (tmp_path / "standin.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.concierge.standin", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        yield _standin_url(proc)
    finally:
        _stop(proc)
        assert proc.stdout is not None
        proc.stdout.close()
        log.close()


@pytest.fixture
def concierge_site(tmp_path: Path, standin: str) -> Iterator[dict[str, Any]]:
    """`kb serve` pointed at the stand-in, with a staff user and one solved thread."""
    port = free_port()
    env = {
        **os.environ,
        "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
        "KB_INDEX_DIR": str(tmp_path / "index"),
        # No help articles: the customer's question must be matched to the community thread.
        "KB_CONTENT_DIR": str(tmp_path / "no-articles"),
        "KB_SECRET_KEY": "browser-test",
        "KB_PASSWORD_METHOD": "pbkdf2:sha256:1000",
        "KB_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "KB_X_API_BASE": standin,
        **{f"KB_{name}": value for name, value in DEMO_SETTINGS.items()},
    }
    kb = [sys.executable, "-m", "kb.cli"]

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*kb, *args], env=env, input=stdin, capture_output=True, text=True, cwd=ROOT,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"kb {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("init")
    run("user", "create", "sam", "--email", "s@example.com", "--role", "staff",
        "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    lines = tmp_path / "threads.jsonl"
    lines.write_text(json.dumps(SOLVED) + "\n", encoding="utf-8")
    assert "Imported 1 new" in run("import", str(lines))
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [*kb, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
        cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/")
        yield {"url": base, "standin": standin, "run": run, "log": tmp_path / "server.log"}
    finally:
        _stop(proc)
        log.close()


def test_a_mention_is_drafted_approved_in_the_browser_and_posted(
    browser: Browser, concierge_site: dict[str, Any], shot: Any
) -> None:
    base, standin, run = concierge_site["url"], concierge_site["standin"], concierge_site["run"]
    posted = requests.post(
        f"{standin}/_standin/tweets", json={"author": "dana_b", "text": CUSTOMER_POST}, timeout=10
    )
    assert posted.status_code == 201, posted.text
    customer_tweet = posted.json()["data"]

    first = run("concierge", "once")
    assert "fetched 1, decided 1, sent 0" in first, first
    assert requests.get(f"{standin}/_standin/posted", timeout=10).json()["data"] == []

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/concierge")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name or email").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/concierge")
    expect(page.locator("h1")).to_have_text("Concierge")

    draft = page.locator("article.draft")
    expect(draft).to_have_count(1)
    expect(draft.locator("blockquote")).to_have_text(CUSTOMER_POST)
    expect(draft).to_contain_text("@dana_b")
    # The best solved answer: the community thread or the help article on the same fix.
    expect(draft.locator(".draft-facts")).to_contain_text(
        re.compile(r"(thread|article): .*[Aa]mber")
    )
    reply_box = draft.locator("textarea")
    reply_text = reply_box.input_value()
    assert reply_text.startswith("@dana_b ")
    short = re.search(rf"{re.escape(base)}/s/(c[0-9A-Za-z]{{7}})", reply_text)
    assert short, reply_text
    expect(draft.locator("label")).to_contain_text("/280 as X counts")
    expect(reply_box).to_have_class(re.compile(r"\blength-ok\b"))
    stats = page.locator(".stat-grid")
    expect(stats).to_contain_text("Mentions received")
    shot(page, "10-concierge-queue")

    draft.get_by_role("button", name="Approve and send").click()
    expect(page.locator(".flash-success")).to_contain_text("Approved.")
    expect(page.locator("article.draft")).to_have_count(0)
    expect(page.locator("#queue-heading")).to_have_text("Sending (1)")
    shot(page, "11-concierge-approved")

    # Meanwhile a customer asks something the knowledge base cannot answer.
    unknown = requests.post(
        f"{standin}/_standin/tweets", json={"author": "erin_q", "text": UNKNOWN_POST}, timeout=10
    )
    assert unknown.status_code == 201, unknown.text

    second = run("concierge", "once")
    assert "fetched 1, decided 1, sent 1" in second, second
    replies = requests.get(f"{standin}/_standin/posted", timeout=10).json()["data"]
    assert len(replies) == 1
    assert replies[0]["in_reply_to_tweet_id"] == customer_tweet["id"]
    assert replies[0]["text"] == reply_text

    page.reload()
    expect(page.locator("#queue-heading")).to_have_text("Sending (0)")
    expect(page.locator(".stat-grid")).to_contain_text("Replies sent")
    sent = page.locator(".stat-grid div", has_text="Replies sent").locator("dd")
    expect(sent).to_have_text("1")

    # The customer follows the short link from the reply: it lands on the answer.
    visitor = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    visitor.goto(f"{base}/s/{short.group(1)}")
    expect(visitor).to_have_url(
        re.compile(r"/t/\d+/hub-3-light-is-amber-and-nothing-connects#answer-\d+$")
    )
    expect(visitor.locator(".answer.accepted")).to_have_count(1)
    shot(visitor, "12-concierge-link-landing")

    # The community sees the unanswered one, without anyone's handle.
    visitor.goto(f"{base}/concierge/unanswered")
    item = visitor.locator("li[id^=mention-]")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("smart fridge with the toaster")
    for handle in ("erin_q", "next_door_ned", "SkylarkHelps"):
        expect(visitor.locator("main, body").first).not_to_contain_text(handle)
    expect(item.get_by_role("link", name="Log in")).to_be_visible()
    shot(visitor, "14-concierge-unanswered-phone")

    page.reload()
    clicks = page.locator(".stat-grid div", has_text="Clicks on reply links").locator("dd")
    expect(clicks).to_have_text("1")
    expect(page.locator("#clicks-heading")).to_be_visible()
    shot(page, "13-concierge-measures")
