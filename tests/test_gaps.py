"""Content gaps: searches and mentions that found nothing, without personal data, grouped."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kb.concierge.models import Mention
from kb.concierge.service import decide_mention
from kb.db import db
from kb.gaps import grouped, normalise, record_gap
from kb.models import ContentGap, utcnow
from kb.search.service import run_search
from tests.conftest import login, post_form


def visitor(app: Any, name: str | None = None) -> Any:
    """Another browser: a new client with its own cookies, logged in as `name` if given."""
    client = app.test_client()
    if name:
        login(client, name)
    return client


def text(response: Any) -> str:
    """A page's HTML with entities decoded."""
    return html_lib.unescape(response.get_data(as_text=True))


def gaps() -> list[tuple[str, str]]:
    """(text, source) of every open gap, oldest first."""
    rows = db.session.scalars(select(ContentGap).where(ContentGap.resolved.is_(False)))
    return [(gap.text, gap.source) for gap in rows]


@pytest.fixture
def hub(make_thread) -> Any:
    """One thread, so that some searches do find something."""
    return make_thread(title="Hub 3 light is amber and nothing connects", tags=("hub-3",))


# ------------------------------------------------------------------ normalising


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Quantum TOASTER won't pair!!", "quantum toaster won't pair"),
        ("@SkylarkHelps @bob_smith quantum toaster", "quantum toaster"),
        ("toaster help, mail me at bob.smith+kb@example.co.uk", "toaster help mail me at"),
        ("toaster: call me on 07700 900123 tonight", "toaster call me on tonight"),
        ("toaster on +44 7700 900123", "toaster on"),
        ("my account number is 12345678 and the toaster", "my account number is and the toaster"),
        ("sort code 12-34-56 toaster", "sort code toaster"),
        ("toaster ref 9876543210", "toaster ref"),
        ("see https://evil.example/x?id=1 and www.example.com toaster", "see and toaster"),
        ("card 4111 1111 1111 1111 toaster", "card toaster"),
    ],
)
def test_normalise_removes_handles_contact_details_and_numbers(raw, expected):
    assert normalise(raw) == expected


def test_normalise_is_short_and_never_fails():
    assert normalise("") == "" and normalise(None) == ""  # type: ignore[arg-type]
    assert len(normalise("toaster " * 500)) <= 300


def test_too_short_a_text_is_not_recorded(app):
    record_gap("@bob 07700 900123", "search")
    record_gap("ok", "search")
    db.session.commit()

    assert gaps() == []


# ------------------------------------------------------------------ searches


def test_a_search_with_no_results_records_a_normalised_gap(client, hub):
    query = "@bob_smith quantum toaster pairing, account 12345678, bob@example.com, 07700 900123"

    response = client.get("/search", query_string={"q": query})

    assert response.status_code == 200
    assert gaps() == [("quantum toaster pairing account", "search")]
    stored = db.session.scalar(select(ContentGap.text))
    for private in ("bob", "12345678", "example", "07700", "900123", "@"):
        assert private not in stored


def test_a_weak_best_hit_counts_as_nothing_good(hub):
    run_search("hub quantum toaster fridge")  # the best hit only shares "hub"

    assert gaps() == [("hub quantum toaster fridge", "search")]


QUIET_SEARCHES = [
    ("hub 3 amber light", {}),  # found
    ("amber lihgt", {}),  # found once the typo is corrected
    ("quantum toaster", {"tag": "hub-3"}),  # filtered: the filter may be why
    ("quantum toaster", {"kind": "article"}),
    ("quantum toaster", {"page": 2}),
    ("", {}),
    ("the and of", {}),
]


def test_searches_that_record_no_gap(hub):
    for query, filters in QUIET_SEARCHES:
        run_search(query, **filters)

        assert gaps() == [], (query, filters)


# ------------------------------------------------------------------ mentions


def test_an_unmatched_concierge_mention_records_a_gap(hub):
    mention = Mention(
        tweet_id="1900000000000000001", author_id="2001", author_username="maria",
        text="@SkylarkHelps @bob_smith how do I pair the quantum toaster with my smart fridge?",
        conversation_id="1900000000000000001",
    )  # fmt: skip
    db.session.add(mention)
    db.session.commit()

    decide_mention(mention, "1500000000000000001", "SkylarkHelps")

    assert mention.decision == "help" and mention.unanswered
    [(gap_text, source)] = gaps()
    assert source == "mention"
    assert "quantum toaster" in gap_text and "smart fridge" in gap_text
    assert "@" not in gap_text and "bob" not in gap_text and "skylark" not in gap_text


def test_a_matched_mention_records_no_gap(hub, make_answer, make_user):
    from kb.threads import accept_answer

    accept_answer(hub, make_answer(hub, body="Amber means no signal from the line."), hub.author)
    mention = Mention(
        tweet_id="1900000000000000002", author_id="2002", author_username="maria",
        text="@SkylarkHelps my hub 3 light is amber and nothing connects, help?",
        conversation_id="1900000000000000002",
    )  # fmt: skip
    db.session.add(mention)
    db.session.commit()

    decide_mention(mention, "1500000000000000001", "SkylarkHelps")

    assert mention.matched_id == hub.id and gaps() == []


# ------------------------------------------------------------------ the staff page


WORDINGS = [
    "quantum toaster pairing",
    "quantum toaster won't pair",
    "pairing my quantum toaster",
    "voicemail greeting recorded twice",
]


def test_gaps_page_groups_similar_wordings_and_mark_handled_removes_them(app, hub, make_user):
    make_user("sam", role="staff")
    for query in WORDINGS:
        run_search(query)
    record_gap("Quantum toaster pairing?", "mention")
    db.session.commit()
    staff = visitor(app, "sam")

    page = text(staff.get("/staff/gaps"))

    rows = re.findall(
        r"<tr>\s*<td><strong>(.*?)</strong>.*?<td>(\d+)</td>\s*<td>(.*?)</td>", page, re.S
    )
    assert [(count, sources) for _label, count, sources in rows] == [
        ("4", "mention, search"),
        ("1", "search"),
    ]
    assert "quantum toaster" in rows[0][0] and rows[1][0] == "voicemail greeting recorded twice"
    assert "also:" in page

    form = re.search(r'<form method="post" action="/staff/gaps/resolve".*?</form>', page, re.S)
    ids = re.findall(r'name="id" value="(\d+)"', form.group(0))
    assert len(ids) == 4
    done = post_form(staff, "/staff/gaps/resolve", {"id": ids}, "/staff/gaps")

    assert done.status_code == 302
    after = text(staff.get("/staff/gaps"))
    assert "Marked as handled." in after
    assert "quantum toaster" not in after and "voicemail greeting recorded twice" in after
    assert [group["label"] for group in grouped()] == ["voicemail greeting recorded twice"]


def test_old_gaps_are_left_out(app):
    record_gap("quantum toaster pairing", "search")
    db.session.commit()
    gap = db.session.scalar(select(ContentGap))
    gap.created = utcnow() - timedelta(days=91)
    db.session.commit()

    assert grouped() == []


def test_the_gaps_page_is_staff_only(app, make_user):
    make_user("member")

    assert visitor(app).get("/staff/gaps").status_code == 302  # to the login page
    member = visitor(app, "member")
    assert member.get("/staff/gaps").status_code == 403
    record_gap("quantum toaster pairing", "search")
    db.session.commit()
    ids = [str(i) for i in db.session.scalars(select(ContentGap.id))]
    assert post_form(member, "/staff/gaps/resolve", {"id": ids}).status_code == 403
    assert gaps() == [("quantum toaster pairing", "search")]
