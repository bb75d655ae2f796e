"""The X API stand-in: X's shapes, OAuth 1.0a checks, rules, limits and test endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from click.testing import CliRunner
from requests_oauthlib import OAuth1
from werkzeug.test import Client

from kb.concierge.standin import (
    DUPLICATE_DETAIL,
    StandinConfig,
    create_standin_app,
    sign_oauth1,
    weighted_length,
    x_standin_command,
)
from kb.concierge.x_api import XTransportAdapter

if TYPE_CHECKING:
    from tests.concierge.conftest import Standin

ACCOUNT_ID = "1500000000000000001"
ACCOUNT = "SkylarkHelps"
X = "https://api.twitter.com"
MENTIONS = f"{X}/2/users/{ACCOUNT_ID}/mentions"


def _oauth(consumer_secret: str = "standin-secret") -> OAuth1:
    # requests-oauthlib signs independently of the stand-in's own verifier.
    return OAuth1(
        "standin-key",
        client_secret=consumer_secret,
        resource_owner_key="1500000000000000001-standintoken",
        resource_owner_secret="standin-access-secret",
    )


@pytest.fixture
def api(standin: Standin) -> Iterator[requests.Session]:
    """Return a session that signs like X's clients and is routed to the stand-in."""
    with requests.Session() as session:
        session.auth = _oauth()
        session.mount(f"{X}/", XTransportAdapter((2.0, 3.0), standin.url))
        yield session


def _problem(status: int, title: str, detail: str | None = None) -> dict[str, Any]:
    return {"title": title, "detail": detail or title, "type": "about:blank", "status": status}


def test_health(standin: Standin) -> None:
    body = standin.session.get(f"{standin.url}/_standin/health").json()
    assert body == {"status": "ok", "account": {"id": ACCOUNT_ID, "username": ACCOUNT}}


def test_users_me(api: requests.Session) -> None:
    response = api.get(f"{X}/2/users/me")
    assert response.status_code == 200
    assert response.json() == {
        "data": {"id": ACCOUNT_ID, "name": "Skylark Helps", "username": ACCOUNT}
    }


def test_unsigned_request_is_rejected(standin: Standin) -> None:
    response = standin.session.get(f"{standin.url}/2/users/me")
    assert response.status_code == 401
    assert response.json() == _problem(401, "Unauthorized")


def test_wrong_secret_is_rejected(api: requests.Session) -> None:
    response = api.get(f"{X}/2/users/me", auth=_oauth("wrong"))
    assert (response.status_code, response.reason) == (401, "Unauthorized")


def test_replayed_nonce_and_tampered_query_are_rejected(api: requests.Session) -> None:
    signed = api.prepare_request(requests.Request("GET", MENTIONS, params={"max_results": "5"}))
    assert api.send(signed).status_code == 200
    assert api.send(signed).status_code == 401
    tampered = api.prepare_request(requests.Request("GET", MENTIONS, params={"max_results": "5"}))
    tampered.url = tampered.url.replace("max_results=5", "max_results=6")
    assert api.send(tampered).status_code == 401


@pytest.mark.parametrize("value", ["3", "101", "abc", ""])
def test_max_results_out_of_range(api: requests.Session, value: str) -> None:
    response = api.get(MENTIONS, params={"max_results": value})
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == "https://api.x.com/2/problems/invalid-request"
    assert body["errors"][0]["parameters"] == {"max_results": [value]}
    assert "max_results" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"tweet.fields": "created_at,nonsense"},
        {"expansions": "author"},
        {"since_id": "12a"},
        {"pagination_token": "!!"},
    ],
)
def test_invalid_parameters(api: requests.Session, params: dict[str, str]) -> None:
    response = api.get(MENTIONS, params=params)
    assert response.status_code == 400
    assert list(response.json()["errors"][0]["parameters"]) == list(params)


def test_only_requested_fields_and_expansions(api: requests.Session, standin: Standin) -> None:
    tweet = standin.tweet("nina", f"Hey @{ACCOUNT} and @friend", lang="de")
    bare = api.get(MENTIONS).json()
    assert bare["data"] == [
        {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
    ]
    assert "includes" not in bare
    assert bare["meta"] == {"result_count": 1, "newest_id": tweet["id"], "oldest_id": tweet["id"]}

    params = {"tweet.fields": "created_at,entities,lang", "expansions": "author_id"}
    rich = api.get(MENTIONS, params=params).json()
    [item] = rich["data"]
    assert set(item) == {"id", "text", "edit_history_tweet_ids", "created_at", "entities", "lang"}
    assert item["lang"] == "de" and item["created_at"].endswith("Z")
    mentions = item["entities"]["mentions"]
    assert mentions[0] == {"start": 4, "end": 17, "username": ACCOUNT, "id": ACCOUNT_ID}
    assert mentions[1] == {"start": 22, "end": 29, "username": "friend"}
    assert rich["includes"] == {
        "users": [{"id": tweet["author_id"], "name": "nina", "username": "nina"}]
    }


def test_mention_matching(api: requests.Session, standin: Standin) -> None:
    hits = [
        standin.tweet("u1", f"@{ACCOUNT.lower()} lower case works"),
        standin.tweet("u2", f"(@{ACCOUNT.upper()}) works too"),
    ]
    standin.tweet("u3", f"@{ACCOUNT}X is someone else")
    standin.tweet("u4", f"mail me at me@{ACCOUNT}")
    standin.tweet("u5", "no handle")
    ids = [t["id"] for t in api.get(MENTIONS).json()["data"]]
    assert ids == [hits[1]["id"], hits[0]["id"]]


def test_ids_are_increasing_snowflakes(standin: Standin) -> None:
    ids = [t["id"] for t in standin.tweets([{"author": "s", "text": str(i)} for i in range(20)])]
    assert all(i.isdigit() and len(i) == 19 for i in ids)
    assert ids == sorted(ids, key=int) and len(set(ids)) == 20


def test_since_until_and_pagination(api: requests.Session, standin: Standin) -> None:
    ids = [
        t["id"]
        for t in standin.tweets([{"author": "p", "text": f"@{ACCOUNT} {i}"} for i in range(12)])
    ]
    window = {"since_id": ids[2], "until_id": ids[9], "max_results": "5"}
    first = api.get(MENTIONS, params=window).json()
    assert [t["id"] for t in first["data"]] == ids[8:3:-1]
    second = api.get(MENTIONS, params=window | {"pagination_token": first["meta"]["next_token"]})
    assert [t["id"] for t in second.json()["data"]] == [ids[3]]
    assert "next_token" not in second.json()["meta"]


def test_only_the_newest_800_mentions_are_reachable(
    api: requests.Session, standin: Standin
) -> None:
    ids = [
        t["id"]
        for t in standin.tweets([{"author": "m", "text": f"@{ACCOUNT} {i}"} for i in range(850)])
    ]
    seen: list[str] = []
    params = {"max_results": "100"}
    while True:
        body = api.get(MENTIONS, params=params).json()
        seen += [t["id"] for t in body.get("data", [])]
        if "next_token" not in body["meta"]:
            break
        params["pagination_token"] = body["meta"]["next_token"]
    assert seen == ids[:49:-1]


def test_rate_limit_headers_and_429(api: requests.Session, standin: Standin) -> None:
    standin.limits(me=2)
    first = api.get(f"{X}/2/users/me")
    assert first.headers["x-rate-limit-limit"] == "2"
    assert first.headers["x-rate-limit-remaining"] == "1"
    assert time.time() + 890 < int(first.headers["x-rate-limit-reset"]) <= time.time() + 901
    assert api.get(f"{X}/2/users/me").headers["x-rate-limit-remaining"] == "0"
    limited = api.get(f"{X}/2/users/me")
    assert (limited.status_code, limited.reason) == (429, "Too Many Requests")
    assert limited.json() == _problem(429, "Too Many Requests")
    assert limited.headers["x-rate-limit-reset"] == first.headers["x-rate-limit-reset"]
    assert api.get(MENTIONS).status_code == 200  # each endpoint has its own window

    standin.faults("none", rate_limit_no_reset=True)
    assert "x-rate-limit-reset" not in api.get(f"{X}/2/users/me").headers


def test_default_limits_are_xs(api: requests.Session) -> None:
    assert api.get(f"{X}/2/users/me").headers["x-rate-limit-limit"] == "75"
    assert api.get(MENTIONS).headers["x-rate-limit-limit"] == "300"
    tweets = api.get(f"{X}/2/users/{ACCOUNT_ID}/tweets")
    assert tweets.headers["x-rate-limit-limit"] == "900"
    assert tweets.json() == {"meta": {"result_count": 0}}


def _post(api: requests.Session, text: str, reply_to: str | None = None) -> requests.Response:
    body: dict[str, Any] = {"text": text}
    if reply_to is not None:
        body["reply"] = {"in_reply_to_tweet_id": reply_to}
    return api.post(f"{X}/2/tweets", json=body)


def test_create_tweet_and_conversation(api: requests.Session, standin: Standin) -> None:
    root = standin.tweet("olga", f"@{ACCOUNT} my app crashes")
    created = _post(api, "@olga which version?", root["id"])
    assert created.status_code == 201
    reply = created.json()["data"]
    assert reply == {
        "id": reply["id"],
        "text": "@olga which version?",
        "edit_history_tweet_ids": [reply["id"]],
    }
    follow = standin.tweet("olga", "version 2.1", in_reply_to_tweet_id=reply["id"])
    second = _post(api, "@olga fixed in 2.2", follow["id"]).json()["data"]

    fields = "conversation_id,referenced_tweets,in_reply_to_user_id"
    timeline = api.get(f"{X}/2/users/{ACCOUNT_ID}/tweets", params={"tweet.fields": fields}).json()
    newest = timeline["data"][0]
    assert newest["id"] == second["id"]
    assert newest["conversation_id"] == root["id"]
    assert newest["referenced_tweets"] == [{"type": "replied_to", "id": follow["id"]}]
    assert newest["in_reply_to_user_id"] == root["author_id"]
    assert [p["id"] for p in standin.posted()] == [reply["id"], second["id"]]


def test_post_rules(api: requests.Session, standin: Standin) -> None:
    mention = standin.tweet("pat", f"@{ACCOUNT} hi")
    stranger = standin.tweet("quinn", "nothing to do with you")
    own = _post(api, "Our new help centre is live").json()["data"]
    quote = standin.tweet("rita", "look at this", quote_tweet_id=own["id"])

    assert _post(api, "hello pat", mention["id"]).status_code == 201
    duplicate = _post(api, "hello pat", mention["id"])
    assert duplicate.json() == _problem(403, "Forbidden", DUPLICATE_DETAIL)
    refused = _post(api, "hello quinn", stranger["id"])
    assert refused.status_code == 403 and "not been mentioned" in refused.json()["detail"]
    assert _post(api, "hello void", "99999").status_code == 403
    assert _post(api, "hello rita", quote["id"]).status_code == 201
    quoting = api.post(f"{X}/2/tweets", json={"text": "see this", "quote_tweet_id": quote["id"]})
    assert quoting.status_code == 201
    assert api.post(f"{X}/2/tweets", json={"text": "q", "quote_tweet_id": "7"}).status_code == 403
    assert _post(api, "x" * 281, mention["id"]).status_code == 403
    assert _post(api, "日本" * 70, mention["id"]).status_code == 201
    assert api.post(f"{X}/2/tweets", json={"text": "hi", "poll": {}}).status_code == 400
    assert (
        api.post(f"{X}/2/tweets", json={"reply": {"in_reply_to_tweet_id": "1"}}).status_code == 400
    )
    assert len(standin.posted()) == 5


def test_unknown_user(api: requests.Session) -> None:
    response = api.get(f"{X}/2/users/42/mentions")
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["resource_type"] == "user" and error["resource_id"] == "42"


def test_faults_are_counted(api: requests.Session, standin: Standin) -> None:
    standin.faults("error503", count=2)
    assert [api.get(f"{X}/2/users/me").status_code for _ in range(3)] == [503, 503, 200]
    standin.faults("drop", count=1)
    with pytest.raises(requests.ConnectionError):
        api.get(f"{X}/2/users/me")
    assert api.get(f"{X}/2/users/me").status_code == 200


def test_control_endpoints_validate(standin: Standin) -> None:
    url = f"{standin.url}/_standin"
    assert standin.session.post(f"{url}/faults", json={"mode": "explode"}).status_code == 400
    assert standin.session.post(f"{url}/limits", json={"everything": 1}).status_code == 400
    assert (
        standin.session.post(
            f"{url}/tweets", json={"author": "bad handle!", "text": "x"}
        ).status_code
        == 400
    )
    assert (
        standin.session.post(
            f"{url}/tweets", json={"author": "ok", "text": "x", "in_reply_to_tweet_id": "5"}
        ).status_code
        == 400
    )
    assert standin.session.get(f"{url}/nothing").status_code == 404


def test_seed_file_loads_in_order_and_survives_reset(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    rows = [
        {
            "author": "zoe",
            "name": "Zoe Z",
            "text": f"@{ACCOUNT} later",
            "created_at": "2026-02-02T10:00:00Z",
        },
        {
            "author": "yan",
            "name": "Yan Y",
            "text": f"@{ACCOUNT} earlier",
            "created_at": "2026-02-01T10:00:00Z",
        },
    ]
    seed.write_text(json.dumps(rows), encoding="utf-8")
    client = Client(create_standin_app(StandinConfig(seed=seed)))
    for _ in range(2):
        tweets = client.get("/_standin/tweets").get_json()["data"]
        assert [t["text"] for t in tweets] == [f"@{ACCOUNT} earlier", f"@{ACCOUNT} later"]
        assert tweets[0]["created_at"] == "2026-02-01T10:00:00.000Z"
        assert client.post("/_standin/reset").status_code == 200


def test_signature_matches_xs_documented_example() -> None:
    params = [
        ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ("include_entities", "true"),
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        ("oauth_version", "1.0"),
    ]
    signature = sign_oauth1(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json",
        params,
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


@pytest.mark.parametrize(
    ("text", "length"),
    [("hello", 5), ("日本", 4), ("see https://example.com/a/very/long/path/indeed", 27)],
)
def test_weighted_length(text: str, length: int) -> None:
    assert weighted_length(text) == length


def test_click_command_help() -> None:
    result = CliRunner().invoke(x_standin_command, ["--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--seed" in result.output
