"""The OpenAPI 3.1 document for /api/v1, written by hand to match the views."""

from __future__ import annotations

from typing import Any

from flask import current_app

STR = {"type": "string"}
INT = {"type": "integer"}
NULL_STR = {"type": ["string", "null"]}
NULL_INT = {"type": ["integer", "null"]}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object schema; every listed property is required unless told otherwise."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


def page(item: str) -> dict[str, Any]:
    """A cursor-paginated list."""
    return obj({"items": {"type": "array", "items": ref(item)}, "next_cursor": NULL_STR})


SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {"error": obj({"code": STR, "message": STR, "field": NULL_STR})},
    ),
    "UserRef": obj({"name": STR, "reputation": INT, "url": STR}),
    "User": obj(
        {
            "name": STR,
            "reputation": INT,
            "url": STR,
            "role": STR,
            "about": STR,
            "created": NULL_TIME,
            "question_count": INT,
            "answer_count": INT,
        }
    ),  # fmt: skip
    "Comment": obj({"id": INT, "body": STR, "author": ref("UserRef"), "created": NULL_TIME}),
    "ThreadSummary": obj(
        {
            "id": INT,
            "key": NULL_STR,
            "title": STR,
            "url": STR,
            "tags": {"type": "array", "items": STR},
            "author": ref("UserRef"),
            "created": NULL_TIME,
            "last_activity": NULL_TIME,
            "score": INT,
            "answer_count": INT,
            "solved": {"type": "boolean"},
            "accepted_answer_id": NULL_INT,
            "duplicate_of_id": NULL_INT,
        }
    ),  # fmt: skip
    "Answer": obj(
        {
            "id": INT,
            "url": STR,
            "body_markdown": STR,
            "body_html": STR,
            "author": ref("UserRef"),
            "created": NULL_TIME,
            "edited": NULL_TIME,
            "score": INT,
            "accepted": {"type": "boolean"},
            "comments": {"type": "array", "items": ref("Comment")},
        }
    ),  # fmt: skip
    "ArticleSummary": obj(
        {
            "slug": STR,
            "title": STR,
            "summary": STR,
            "url": STR,
            "tags": {"type": "array", "items": STR},
            "updated": NULL_TIME,
            "reviewed": NULL_TIME,
        }
    ),  # fmt: skip
    "Tag": obj({"name": STR, "count": INT}),
    "SearchHit": obj(
        {
            "kind": {"enum": ["thread", "article"]},
            "id": INT,
            "title": STR,
            "url": STR,
            "solved": {"type": "boolean"},
            "tags": {"type": "array", "items": STR},
            "score": {"type": "number"},
            "excerpt": STR,
        }
    ),  # fmt: skip
    "MatchHit": obj(
        {
            "kind": {"enum": ["thread", "article"]},
            "id": INT,
            "key": NULL_STR,
            "title": STR,
            "url": STR,
            "score": {"type": "number"},
            "solved": {"type": "boolean"},
        }
    ),  # fmt: skip
    "Vote": obj({"kind": STR, "id": INT, "score": INT, "your_vote": INT}),
}
SCHEMAS["Thread"] = {
    "allOf": [
        ref("ThreadSummary"),
        obj(
            {
                "body_markdown": STR, "body_html": STR, "edited": NULL_TIME,
                "comments": {"type": "array", "items": ref("Comment")},
                "answers": {"type": "array", "items": ref("Answer")},
            }
        ),
    ]
}  # fmt: skip
SCHEMAS["Article"] = {
    "allOf": [ref("ArticleSummary"), obj({"body_markdown": STR, "body_html": STR})]
}
SCHEMAS["ThreadPage"] = page("ThreadSummary")
SCHEMAS["ArticlePage"] = page("ArticleSummary")
SCHEMAS["SearchPage"] = page("SearchHit")
SCHEMAS["TagList"] = obj({"items": {"type": "array", "items": ref("Tag")}})
SCHEMAS["MatchList"] = obj({"items": {"type": "array", "items": ref("MatchHit")}})


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def _ok(schema: str, description: str = "OK", status: str = "200") -> dict[str, Any]:
    responses = {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        },
        "400": _error("Bad input"),
        "401": _error("Bad or revoked token"),
        "404": _error("Not found"),
        "429": _error("Rate limited"),
    }
    if status == "200":
        responses["304"] = {"description": "Not modified (If-None-Match matched the ETag)"}
    return responses


def _write(schema: str, body: dict[str, Any], status: str = "201") -> dict[str, Any]:
    responses = _ok(schema, "Done", status)
    responses["403"] = _error("Not allowed (read-only token or not your thread)")
    responses["413"] = _error("Body over 1 MB")
    responses["415"] = _error("Not JSON")
    return {
        "security": [{"token": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {**body, "additionalProperties": False}}},
        },
        "responses": responses,
    }


def _q(
    name: str, schema: dict[str, Any], required: bool = False, description: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


ID = {
    "name": "thread_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
CURSOR = _q("cursor", STR, description="next_cursor from the previous page")
TAG = _q("tag", {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 30})


def spec() -> dict[str, Any]:
    """The document, with this site's address as the server."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    paths: dict[str, Any] = {
        "/threads": {
            "get": {
                "summary": "List threads",
                "parameters": [
                    TAG,
                    _q("solved", {"enum": ["true", "false"]}),
                    _q("sort", {"enum": ["recent", "created", "votes"]}),
                    _q("q", {"type": "string", "maxLength": 500}, description="search text"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    CURSOR,
                ],
                "responses": _ok("ThreadPage"),
            },  # fmt: skip
            "post": {
                "summary": "Ask a question",
                **_write(
                    "Thread",
                    obj({"title": STR, "body": STR, "tags": {"type": "array", "items": STR}}),
                ),
            },
        },
        "/threads/{thread_id}": {
            "get": {
                "summary": "A thread with answers",
                "parameters": [ID],
                "responses": _ok("Thread"),
            }
        },
        "/threads/{thread_id}/answers": {
            "post": {
                "summary": "Answer",
                "parameters": [ID],
                **_write("Answer", obj({"body": STR})),
            }
        },
        "/threads/{thread_id}/comments": {
            "post": {
                "summary": "Comment on the question or an answer",
                "parameters": [ID],
                **_write("Comment", obj({"body": STR, "answer_id": INT}, ["body"])),
            }
        },
        "/threads/{thread_id}/vote": {
            "post": {
                "summary": "Vote on a question",
                "parameters": [ID],
                **_write("Vote", obj({"value": {"enum": [-1, 0, 1]}}), "200"),
            }
        },
        "/answers/{answer_id}/vote": {
            "post": {
                "summary": "Vote on an answer",
                "parameters": [{**ID, "name": "answer_id"}],
                **_write("Vote", obj({"value": {"enum": [-1, 0, 1]}}), "200"),
            }
        },
        "/threads/{thread_id}/accept": {
            "post": {
                "summary": "Accept an answer (or null to un-accept)",
                "parameters": [ID],
                **_write("ThreadSummary", obj({"answer_id": NULL_INT}), "200"),
            }
        },
        "/search": {
            "get": {
                "summary": "Search threads and articles",
                "parameters": [
                    _q("q", {"type": "string", "minLength": 1, "maxLength": 500}, True),
                    _q("type", {"enum": ["article", "thread"]}),
                    _q("state", {"enum": ["solved", "unsolved"]}),
                    TAG,
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 50}),
                    CURSOR,
                ],
                "responses": _ok("SearchPage"),
            }  # fmt: skip
        },
        "/match": {
            "get": {
                "summary": "The concierge's matcher",
                "parameters": [
                    _q("q", {"type": "string", "minLength": 1, "maxLength": 500}, True),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 50}),
                ],
                "responses": _ok("MatchList"),
            }
        },
        "/articles": {
            "get": {
                "summary": "List published articles",
                "parameters": [
                    TAG,
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    CURSOR,
                ],
                "responses": _ok("ArticlePage"),
            }
        },
        "/articles/{slug}": {
            "get": {
                "summary": "One article",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": STR}],
                "responses": _ok("Article"),
            }
        },
        "/tags": {"get": {"summary": "Tags with thread counts", "responses": _ok("TagList")}},
        "/users/{name}": {
            "get": {
                "summary": "A user's public profile",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": STR}],
                "responses": _ok("User"),
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{current_app.config['SITE_NAME']} API",
            "version": "1",
            "description": (
                "Reads are public. Writes need a personal token with write scope "
                "(Authorization: Bearer <token>), made on your settings page. Lists use cursor "
                'pagination (next_cursor). Errors are {"error": {code, message, field}}. '
                "RateLimit-Limit/Remaining/Reset headers on every response; ETags on GETs."
            ),
        },
        "servers": [{"url": f"{base}/api/v1"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }
