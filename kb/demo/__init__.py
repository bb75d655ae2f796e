"""The demo community: users, threads and customer tweets for the Skylark brand."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from kb.db import db
from kb.importer import ImportReport, import_lines
from kb.models import User
from kb.users import create_user

DEMO_DIR = Path(__file__).parent
DEMO_PASSWORD = "skylark-demo"


def load_demo(procs: int = 1) -> tuple[int, ImportReport]:
    """Create the demo users (password DEMO_PASSWORD) and import the demo threads."""
    created = 0
    for person in json.loads((DEMO_DIR / "users.json").read_text(encoding="utf-8")):
        if db.session.scalar(select(User.id).where(User.name == person["name"])) is None:
            create_user(
                person["name"],
                email=person["email"],
                password=DEMO_PASSWORD,
                role=person.get("role", "member"),
                about=person.get("about", ""),
            )
            created += 1
    lines = (DEMO_DIR / "community.jsonl").read_text(encoding="utf-8").splitlines()
    report = import_lines(lines, index=False, procs=procs)
    return created, report


def demo_tweets_path() -> Path:
    """The seed file of customer tweets for the X stand-in."""
    return DEMO_DIR / "tweets.json"
