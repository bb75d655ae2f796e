"""Forms: a clear message beside the field at fault, the right status, and nothing written."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import func, select

from kb.db import db
from kb.models import Thread
from tests.conftest import PASSWORD, csrf_token, login, post_form

TITLE = "Hub 3 light is amber and nothing connects"
BODY = "Since this morning the light on my Hub 3 is amber and no device connects."
ANSWER = "Restart the hub by holding the power button for 10 seconds."


CACHES = {"related_cache"}  # derived data a page view may fill in; not what a form writes


def row_counts() -> dict[str, int]:
    """Rows in every table but the caches."""
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if table.name not in CACHES
    }


def field_error(page: str, field: str) -> str | None:
    """The message shown under one form field, or None."""
    found = re.search(rf'<p class="field-error" id="{field}-error" role="alert">(.*?)</p>', page)
    return html_lib.unescape(found.group(1)) if found else None


def text(response) -> str:
    """The page's HTML."""
    return response.get_data(as_text=True)


# ----------------------------------------------------------------------- ask


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": "Help me"}, "title", "Title must be at least 10 characters."),
        ({"title": "x" * 151}, "title", "Title must be at most 150 characters."),
        ({"body": "It broke."}, "body", "Write at least 20 characters."),
        ({"tags": ""}, "tags", "Add at least one tag."),
        ({"tags": "a b c d e f"}, "tags", "Use at most 5 tags."),
        ({"tags": "C++"}, "tags", "'c++' is not a valid tag"),
        ({"tags": "wifi <b>x</b>"}, "tags", "'<b>x</b>' is not a valid tag"),
    ],
)
def test_ask_form_shows_the_problem_beside_the_field(client, make_user, changes, field, message):
    make_user("ann")
    login(client, "ann")
    before = row_counts()
    values = {"title": TITLE, "body": BODY, "tags": "router hub-3", **changes}

    response = post_form(client, "/ask", values, token_from="/ask")

    page = text(response)
    assert response.status_code == 400
    assert message in field_error(page, field)
    assert 'aria-invalid="true"' in page
    others = {"title", "body", "tags"} - {field}
    assert all(field_error(page, other) is None for other in others)
    # What was typed is kept (escaped), so nothing has to be typed again.
    assert html_lib.escape(values["title"], quote=True) in page
    assert "<b>x</b>" not in page
    assert row_counts() == before


def test_ask_form_posts_and_redirects_to_the_thread(client, make_user):
    make_user("ann")
    login(client, "ann")
    response = post_form(client, "/ask", {"title": TITLE, "body": BODY, "tags": "router"}, "/ask")
    assert response.status_code == 302
    thread = db.session.scalar(select(Thread))
    assert response.headers["Location"] == f"/t/{thread.id}/{thread.slug}"
    assert "Your question is posted" in text(client.get(response.headers["Location"]))


def test_ask_page_prefills_the_title(client, make_user):
    make_user("ann")
    login(client, "ann")
    page = text(client.get("/ask", query_string={"title": "Wi-Fi drops <every> night"}))
    assert 'value="Wi-Fi drops &lt;every&gt; night"' in page
    long_page = text(client.get("/ask", query_string={"title": "y" * 400}))
    assert f'value="{"y" * 150}"' in long_page and "y" * 151 not in long_page


def test_ask_needs_a_login(client):
    response = client.get("/ask")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# -------------------------------------------------------------------- answer


@pytest.mark.parametrize(
    ("body", "message"),
    [("Reboot it.", "Write at least 20 characters."), ("x" * 30_001, "Keep it under 30,000")],
)
def test_answer_form_shows_the_problem(client, make_user, make_thread, body, message):
    thread = make_thread()
    make_user("bob")
    login(client, "bob")
    before = row_counts()
    path = f"/t/{thread.id}/{thread.slug}"

    response = post_form(client, f"/t/{thread.id}/answer", {"body": body}, token_from=path)

    page = text(response)
    assert response.status_code == 400
    assert message in field_error(page, "body")
    assert thread.title in page  # still the thread page, with the answer box
    assert row_counts() == before


def test_answer_form_posts_and_jumps_to_the_answer(client, make_user, make_thread):
    thread = make_thread()
    make_user("bob")
    login(client, "bob")
    path = f"/t/{thread.id}/{thread.slug}"
    response = post_form(client, f"/t/{thread.id}/answer", {"body": ANSWER}, token_from=path)
    assert response.status_code == 302
    assert re.fullmatch(rf"{path}#answer-\d+", response.headers["Location"])
    assert ANSWER in text(client.get(path))


def test_unrenderable_answer_is_refused_with_a_message(client, make_user, make_thread):
    thread = make_thread()
    make_user("bob")
    login(client, "bob")
    before = row_counts()
    path = f"/t/{thread.id}/{thread.slug}"
    response = post_form(client, f"/t/{thread.id}/answer", {"body": "[" * 20000}, path)
    assert response.status_code == 400
    assert "could not be formatted in time" in field_error(text(response), "body")
    assert row_counts() == before


# ------------------------------------------------------------ register/login


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"confirm": "something else entirely"}, "confirm", "The two passwords don't match."),
        ({"name": "A B"}, "name", "Names are 3 to 30"),
        ({"name": "ann"}, "name", "That name is taken."),
        ({"email": "bob@"}, "email", "Enter a valid email address."),
        ({"email": "ANN@example.com"}, "email", "already exists"),
        ({"password": "short", "confirm": "short"}, "password", "at least 8 characters"),
    ],
)
def test_register_form_shows_the_problem(client, make_user, changes, field, message):
    make_user("ann")
    before = row_counts()
    values = {
        "name": "bob",
        "email": "bob@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        **changes,
    }
    response = post_form(client, "/register", values, token_from="/register")
    page = text(response)
    assert response.status_code == 400
    assert message in field_error(page, field)
    assert PASSWORD not in page  # passwords are never echoed back
    assert row_counts() == before


def login_error(client, name: str, password: str):
    """Post the login form; return the response and its error message."""
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    found = re.search(
        r'<p class="form-error" role="alert" id="login-error">(.*?)</p>', text(response)
    )
    return response, html_lib.unescape(found.group(1)) if found else None


def test_login_failure_says_the_same_for_unknown_user_and_wrong_password(client, make_user):
    make_user("ann")
    wrong_password, wrong_message = login_error(client, "ann", "not the password")
    unknown_user, unknown_message = login_error(client, "nobody", PASSWORD)

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_message == unknown_message == "That name or password is not right."
    assert 'value="nobody"' in text(unknown_user)
    assert "not the password" not in text(wrong_password)


# ---------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_post_without_a_valid_csrf_token_is_refused(client, make_user, make_thread, token):
    thread = make_thread()
    make_user("bob")
    login(client, "bob")
    before = row_counts()
    data = {} if token is None else {"csrf_token": token}

    posts = [
        ("/ask", {"title": TITLE, "body": BODY, "tags": "router"}),
        (f"/t/{thread.id}/answer", {"body": ANSWER}),
        (f"/t/{thread.id}/comment", {"body": "A comment without a token."}),
        (f"/vote/thread/{thread.id}", {"value": "up"}),
        (f"/flag/thread/{thread.id}", {"reason": "Spam advert here"}),
        ("/settings", {"current": PASSWORD, "new": "new password 1", "confirm": "new password 1"}),
        ("/logout", {}),
    ]
    for path, values in posts:
        response = client.post(path, data={**values, **data})
        assert response.status_code == 400, path
        assert "Your form expired or came from another site" in text(response)

    assert row_counts() == before
    assert db.session.get(Thread, thread.id).score == 0
    assert client.get("/settings").status_code == 200  # still logged in, password unchanged


def test_register_without_csrf_token_writes_nothing(client):
    response = client.post(
        "/register",
        data={"name": "bob", "email": "bob@example.com", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 400
    assert row_counts()["users"] == 0


# ------------------------------------------------------------------ too big


def test_oversized_request_gets_a_413_page(client, make_user):
    make_user("ann")
    login(client, "ann")
    token = csrf_token(client, "/ask")
    before = row_counts()
    response = client.post(
        "/ask",
        data={
            "title": TITLE,
            "body": "x" * (1024 * 1024 + 1),
            "tags": "router",
            "csrf_token": token,
        },
    )
    assert response.status_code == 413
    assert "That was too big" in text(response)
    assert row_counts() == before


def test_oversized_anonymous_post_gets_a_413_page(client):
    response = client.post(
        "/register",
        data=b"name=" + b"a" * (2 * 1024 * 1024),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "That was too big" in text(response)
    assert row_counts()["users"] == 0
