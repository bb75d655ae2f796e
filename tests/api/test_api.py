"""The JSON API: real responses validated against its own OpenAPI document, and bad input."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from kb.api.tokens import create_token
from kb.db import db
from kb.models import Thread

BODY = "Since this morning the light on my Hub 3 is amber and nothing connects."


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    return document


def check(spec: dict[str, Any], schema: str, data: Any) -> None:
    """Validate a response body against a component schema of the served document."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    jsonschema.Draft202012Validator(root).validate(data)


@pytest.fixture
def writer(make_user: Any) -> tuple[Any, dict[str, str]]:
    user = make_user("writer")
    _token, secret = create_token(user, name="tests", scope="write")
    return user, {"Authorization": f"Bearer {secret}"}


def test_every_path_in_the_document_is_served(app: Any, spec: dict[str, Any]) -> None:
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")}
    documented = {
        "/api/v1"
        + p.replace("{thread_id}", "<id:thread_id>")
        .replace("{answer_id}", "<id:answer_id>")
        .replace("{slug}", "<slug>")
        .replace("{name}", "<name>")
        for p in spec["paths"]
    }
    assert routes == documented


def test_responses_match_the_document(
    client: Any, spec: dict[str, Any], writer: Any, make_user: Any
) -> None:
    user, auth = writer
    created = client.post(
        "/api/v1/threads", json={"title": "Hub 3 light is amber again", "body": BODY, "tags": ["hub-3"]},
        headers=auth,
    )  # fmt: skip
    assert created.status_code == 201
    check(spec, "Thread", created.get_json())
    thread_id = created.get_json()["id"]
    other = make_user("helper")
    _t, secret = create_token(other, name="h", scope="write")
    helper = {"Authorization": f"Bearer {secret}"}
    answer = client.post(
        f"/api/v1/threads/{thread_id}/answers", json={"body": "Hold the power button for ten seconds."},
        headers=helper,
    )  # fmt: skip
    assert answer.status_code == 201
    check(spec, "Answer", answer.get_json())
    answer_id = answer.get_json()["id"]
    comment = client.post(
        f"/api/v1/threads/{thread_id}/comments", json={"body": "Did that help?", "answer_id": answer_id},
        headers=auth,
    )  # fmt: skip
    assert comment.status_code == 201
    check(spec, "Comment", comment.get_json())
    vote = client.post(f"/api/v1/answers/{answer_id}/vote", json={"value": 1}, headers=auth)
    assert vote.status_code == 200 and vote.get_json()["score"] == 1
    check(spec, "Vote", vote.get_json())
    accepted = client.post(
        f"/api/v1/threads/{thread_id}/accept", json={"answer_id": answer_id}, headers=auth
    )
    assert accepted.status_code == 200 and accepted.get_json()["solved"] is True
    check(spec, "ThreadSummary", accepted.get_json())
    for path, schema in [
        ("/api/v1/threads", "ThreadPage"),
        ("/api/v1/threads?solved=true&sort=votes&tag=hub-3", "ThreadPage"),
        ("/api/v1/threads?q=amber", "ThreadPage"),
        (f"/api/v1/threads/{thread_id}", "Thread"),
        ("/api/v1/search?q=amber+light", "SearchPage"),
        ("/api/v1/match?q=my+hub+is+amber", "MatchList"),
        ("/api/v1/articles", "ArticlePage"),
        ("/api/v1/tags", "TagList"),
        ("/api/v1/users/helper", "User"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        check(spec, schema, response.get_json())
    db.session.expire_all()
    assert db.session.get(Thread, thread_id).accepted_answer_id == answer_id


def test_cursor_pagination_walks_every_thread_once(client: Any, make_thread: Any) -> None:
    ids = {make_thread(title=f"Question number {i} about the hub").id for i in range(7)}
    seen: list[int] = []
    url = "/api/v1/threads?limit=3"
    while url:
        page = client.get(url).get_json()
        seen += [t["id"] for t in page["items"]]
        url = f"/api/v1/threads?limit=3&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_tampered_and_foreign_cursors_are_refused(client: Any, make_thread: Any) -> None:
    for i in range(3):
        make_thread(title=f"Question number {i} about the hub")
    cursor = client.get("/api/v1/threads?limit=1").get_json()["next_cursor"]
    for bad in [cursor[:-2] + "xx", "abc", "a" * 3000, cursor]:
        url = f"/api/v1/articles?cursor={bad}" if bad == cursor else f"/api/v1/threads?cursor={bad}"
        response = client.get(url)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_cursor"


def test_etag_gives_not_modified(client: Any, make_thread: Any) -> None:
    thread = make_thread()
    first = client.get(f"/api/v1/threads/{thread.id}")
    again = client.get(
        f"/api/v1/threads/{thread.id}", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ("{not json", "malformed_json", None),
        ("[1, 2]", "invalid_body", None),
        ('{"title": 5, "body": "x", "tags": []}', "invalid_type", "title"),
        (
            f'{{"title": "Hub 3 light is amber again", "body": "{BODY}", "tags": "hub"}}',
            "invalid_type",
            "tags",
        ),
        (f'{{"title": "Hub 3 light is amber again", "body": "{BODY}"}}', "missing_field", "tags"),
        (
            f'{{"title": "Hub 3 light is amber", "body": "{BODY}", "tags": [], "admin": true}}',
            "unknown_field",
            "admin",
        ),
        (f'{{"title": "short", "body": "{BODY}", "tags": ["hub"]}}', "invalid", "title"),
        (
            f'{{"title": "Hub 3 light is amber again", "body": "{BODY}", "tags": ["C++"]}}',
            "invalid",
            "tags",
        ),
    ],
)
def test_bad_bodies_get_an_error_object_and_write_nothing(
    client: Any, writer: Any, body: str, code: str, field: str | None
) -> None:
    _user, auth = writer
    response = client.post(
        "/api/v1/threads", data=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["field"] == field
    assert db.session.query(Thread).count() == 0


def test_tokens_scopes_and_revocation(client: Any, make_user: Any, app: Any) -> None:
    user = make_user("reader")
    token, secret = create_token(user, name="r", scope="read")
    payload = {"title": "Hub 3 light is amber again", "body": BODY, "tags": ["hub-3"]}
    assert client.post("/api/v1/threads", json=payload).status_code == 401
    read_only = client.post(
        "/api/v1/threads", json=payload, headers={"Authorization": f"Bearer {secret}"}
    )
    assert (
        read_only.status_code == 403
        and read_only.get_json()["error"]["code"] == "insufficient_scope"
    )
    from kb.api.tokens import revoke_token

    revoke_token(user, token.id)
    for header in [f"Bearer {secret}", "Bearer kbt_made_up", "Basic abc", "Bearer "]:
        response = client.get("/api/v1/threads", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["error"]["code"] == "invalid_token"
    assert db.session.query(Thread).count() == 0


def test_oversized_bodies_and_odd_paths(client: Any, writer: Any) -> None:
    _user, auth = writer
    huge = client.post(
        "/api/v1/threads",
        data="x" * (1024 * 1024 + 1),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.get_json()["error"]["code"] == "payload_too_large"
    for path in ["/api/v1/threads/123456789012345678901234567890", "/api/v1/nope", "/api/v1/users/%00",
                 "/api/v1/articles/" + "a" * 500, "/api/v1/threads?limit=0", "/api/v1/threads?solved=maybe",
                 "/api/v1/search", "/api/v1/threads?tag=C%2B%2B"]:  # fmt: skip
        response = client.get(path)
        assert response.status_code in (400, 404), path
        assert set(response.get_json()["error"]) == {"code", "message", "field"}


def test_rate_limits_have_headers_and_stop_at_the_limit(app: Any, client: Any) -> None:
    app.config["API_RATE_LIMITS"] = {"read": 3, "write": 1}
    statuses = []
    for _ in range(4):
        response = client.get("/api/v1/tags")
        statuses.append(response.status_code)
        assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
            response.headers.keys()
        )
    assert statuses == [200, 200, 200, 429]
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_settings_page_creates_shows_once_and_revokes_tokens(client: Any, make_user: Any) -> None:
    from tests.conftest import login, post_form

    make_user("ann")
    login(client, "ann")
    page = post_form(
        client, "/settings/tokens", {"name": "dashboard", "scope": "write"}, "/settings"
    )
    assert page.status_code == 200
    import re

    secret = re.search(r'value="(kbt_[^"]+)"', page.get_data(as_text=True)).group(1)
    assert (
        client.get("/api/v1/tags", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    settings = client.get("/settings").get_data(as_text=True)
    assert secret not in settings and "dashboard" in settings
    token_id = re.search(r"/settings/tokens/(\d+)/revoke", settings).group(1)
    post_form(client, f"/settings/tokens/{token_id}/revoke", {}, "/settings")
    assert (
        client.get("/api/v1/tags", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )
