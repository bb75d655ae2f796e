"""The same code on PostgreSQL: a throwaway cluster on loopback, real operations on it."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import free_port
from tests.conftest import app_config


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server in a temporary directory, stopped at the end."""
    bindir = _pg_bin()
    if bindir is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL binaries (or root for runuser) not available")
    root = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
         "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        for _ in range(50):
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_app(pg_url: str, tmp_path: Path) -> Iterator[object]:
    from kb import create_app
    from kb.db import db

    app = create_app(app_config(tmp_path, DATABASE_URL=pg_url))
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()
        app.extensions["kb_search"].close()
        db.engine.dispose()


def test_core_operations_on_postgres(pg_app: object) -> None:
    from kb.db import db
    from kb.importer import import_lines
    from kb.models import Thread, User
    from kb.search.service import match, run_search
    from kb.threads import accept_answer, ask_thread, cast_vote, post_answer
    from kb.users import create_user

    asker = create_user("asker", email="a@example.com", password="long enough pw")
    helper = create_user("helper", email="h@example.com", password="long enough pw")
    thread = ask_thread(
        asker, title="Stream 4K box has no sound on Netflix",
        body="Every other app has sound, only Netflix is silent on the Stream 4K.",
        tags=["stream-4k", "sound"],
    )  # fmt: skip
    thread_id = thread.id
    answer = post_answer(thread, helper, body="Turn off Dolby Atmos in the Netflix app settings.")
    assert cast_vote(asker, "answer", answer.id, 1) == 1
    assert cast_vote(asker, "answer", answer.id, -1) == -1
    assert cast_vote(asker, "answer", answer.id, 1) == 1
    accept_answer(thread, answer, asker)
    db.session.refresh(helper)
    assert helper.reputation == 10 + 15
    report = import_lines(
        ['{"key": "pg-1", "title": "Hub 3 light is amber in the evening", "body": "Amber light '
         'every evening, internet drops.", "tags": ["hub-3"], "author": "Kim", "answers": '
         '[{"body": "Move the hub away from the TV.", "author": "Raj", "score": 3, '
         '"accepted": true}]}', "not json"],
        procs=1,
    )  # fmt: skip
    assert report.added == 1 and report.errors and report.errors[0][0] == 2
    assert db.session.query(Thread).count() == 2
    assert db.session.query(User).filter_by(name="raj").one().reputation == 30 + 15
    page = run_search("netflix sound")
    assert page.hits and page.hits[0].db_id == thread_id and page.hits[0].solved
    assert match("amber light evening")[0]["key"] == "pg-1"


def test_create_schema_adds_missing_columns_on_postgres(pg_app: object) -> None:
    from sqlalchemy import text

    from kb.db import create_schema, db

    db.session.execute(text("ALTER TABLE threads DROP COLUMN edited"))
    db.session.execute(text("ALTER TABLE answers DROP COLUMN edited"))
    db.session.commit()

    assert sorted(create_schema()) == ["answers.edited", "threads.edited"]
    db.session.execute(text("SELECT edited FROM threads"))
    assert create_schema() == []
