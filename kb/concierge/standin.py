"""A local stand-in for the X API v2 that speaks X's JSON shapes, errors and rate limits.

API endpoints (OAuth 1.0a HMAC-SHA1, verified against the public https://api.twitter.com URL):
GET /2/users/me, GET /2/users/{id}/mentions, GET /2/users/{id}/tweets, POST /2/tweets.
Test endpoints without OAuth under /_standin/: health, reset, tweets (post or list), posted,
faults and limits. A reply to one of the account's posts counts as a mention, as on X.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import re
import signal
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, quote, unquote

import click
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

PUBLIC_BASE_URL = "https://api.twitter.com"
WINDOW_SECONDS = 15 * 60
MENTIONS_REACHABLE, USER_TWEETS_REACHABLE = 800, 3200
TWEPOCH_MS = 1288834974657
DEFAULT_LIMITS = {"me": 75, "mentions": 300, "user_tweets": 900, "create_tweet": 100}
FAULT_MODES = frozenset(
    {"none", "error500", "error503", "slow", "drop", "drop_after_post", "malformed"}
)
TWEET_FIELDS = frozenset(
    "article attachments author_id card_uri community_id context_annotations conversation_id "
    "created_at display_text_range edit_controls edit_history_tweet_ids entities geo id "
    "in_reply_to_user_id lang matched_media_notes media_metadata non_public_metrics "
    "note_request_suggestions note_tweet organic_metrics paid_partnership possibly_sensitive "
    "promoted_metrics public_metrics referenced_tweets reply_settings scopes source "
    "suggested_source_links suggested_source_links_with_counts text withheld".split()
)
EXPANSIONS = frozenset(
    "article.cover_media article.media_entities attachments.media_keys "
    "attachments.media_source_tweet attachments.poll_ids author_id edit_history_tweet_ids "
    "entities.mentions.username geo.place_id in_reply_to_user_id entities.note.mentions.username "
    "referenced_tweets.id referenced_tweets.id.attachments.media_keys "
    "referenced_tweets.id.author_id".split()
)
USER_FIELDS = frozenset(
    "affiliation confirmed_email connection_status created_at description entities id "
    "is_identity_verified location most_recent_tweet_id name parody pinned_tweet_id "
    "profile_banner_url profile_image_url protected public_metrics receives_your_dm "
    "subscribes_to_you subscription subscription_type url username verified "
    "verified_followers_count verified_type withheld".split()
)
INVALID_REQUEST = "https://api.x.com/2/problems/invalid-request"
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
NOT_ENGAGED_DETAIL = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)
DELETED_DETAIL = "You attempted to reply to a Tweet that is deleted or not visible to you."
TOO_LONG_DETAIL = "Your Tweet text is too long."
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
AUTH_PARAM_RE = re.compile(r'([A-Za-z0-9_.-]+)="([^"]*)"')
ID_RE = re.compile(r"^[0-9]{1,19}$")

API_ROUTES = Map(
    [
        Rule("/2/users/me", endpoint="me", methods=["GET"]),
        Rule("/2/users/<id_>/mentions", endpoint="mentions", methods=["GET"]),
        Rule("/2/users/<id_>/tweets", endpoint="user_tweets", methods=["GET"]),
        Rule("/2/tweets", endpoint="create_tweet", methods=["POST"]),
    ]
)


@dataclass
class StandinConfig:
    """Credentials the stand-in accepts, the account it plays, its rate limits and seed."""

    consumer_key: str = "standin-key"
    consumer_secret: str = "standin-secret"
    access_token: str = "1500000000000000001-standintoken"
    access_secret: str = "standin-access-secret"
    username: str = "SkylarkHelps"
    name: str = "Skylark Helps"
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    seed: Path | None = None

    @property
    def account_id(self) -> str:
        """Return the account's user id, the numeric prefix of the access token."""
        return self.access_token.partition("-")[0]


class ApiError(Exception):
    """An error answer, already in X's JSON shape."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("detail") or body)
        self.status, self.body, self.headers = status, body, dict(headers or {})

    def response(self) -> Response:
        """Return the error as a JSON response."""
        return _json(self.body, self.status, self.headers)


def problem(status: int, title: str, detail: str | None = None) -> ApiError:
    """Return X's `about:blank` problem, e.g. the 401, 403 and 429 answers."""
    body = {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
    return ApiError(status, body)


def invalid_request(parameter: str, value: str, message: str) -> ApiError:
    """Return X's 400 answer for a bad query parameter or body field."""
    body = {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST,
    }
    return ApiError(400, body)


def sign_oauth1(
    method: str,
    url: str,
    params: Iterable[tuple[str, str]],
    consumer_secret: str,
    token_secret: str,
) -> str:
    """Return the OAuth 1.0a HMAC-SHA1 signature of a request (RFC 5849, section 3.4)."""
    pairs = sorted((_pct(k), _pct(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join(_pct(part) for part in (method.upper(), url, normalized))
    key = f"{_pct(consumer_secret)}&{_pct(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


def weighted_length(text: str) -> int:
    """Return the length X counts: URLs weigh 23, CJK and emoji 2, most other characters 1."""
    light = ((0, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
    length = 23 * len(URL_RE.findall(text))
    for char in URL_RE.sub("", text):
        length += 1 if any(lo <= ord(char) <= hi for lo, hi in light) else 2
    return length


@dataclass
class _User:
    id: str
    username: str
    name: str
    created_at: datetime


@dataclass
class _Tweet:
    id: int
    text: str
    author_id: str
    created_at: datetime
    conversation_id: int
    lang: str
    mentioned: list[dict[str, Any]]
    in_reply_to: _Tweet | None = None
    quote_of: _Tweet | None = None

    def full(self) -> dict[str, Any]:
        """Return the post with every field the stand-in knows."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "text": self.text,
            "edit_history_tweet_ids": [str(self.id)],
            "author_id": self.author_id,
            "created_at": _iso(self.created_at),
            "conversation_id": str(self.conversation_id),
            "lang": self.lang,
            "possibly_sensitive": False,
            "reply_settings": "everyone",
        }
        if self.mentioned:
            data["entities"] = {"mentions": [dict(m) for m in self.mentioned]}
        pairs = (("replied_to", self.in_reply_to), ("quoted", self.quote_of))
        refs = [{"type": kind, "id": str(t.id)} for kind, t in pairs if t is not None]
        if refs:
            data["referenced_tweets"] = refs
        if self.in_reply_to is not None:
            data["in_reply_to_user_id"] = self.in_reply_to.author_id
        return data


class StandinApp:
    """The WSGI application: in-memory users and posts behind X's v2 endpoints."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every post, fault and rate-limit window, then load the seed again."""
        with self._lock:
            self._last_id = 0
            self._users: dict[str, _User] = {}
            self._tweets: dict[int, _Tweet] = {}
            self._faults: dict[str, Any] = {"mode": "none", "count": 0, "delay": 0.0}
            self._no_reset = False
            self._limits = dict(DEFAULT_LIMITS) | self.config.limits
            self._windows: dict[str, list[float]] = {}
            self._nonces: dict[str, float] = {}
            account = _User(self.config.account_id, self.config.username, self.config.name, _now())
            self._users[account.id] = account
            if self.config.seed is not None:
                seed = json.loads(Path(self.config.seed).read_text(encoding="utf-8"))
                for spec in sorted(seed, key=lambda s: str(s.get("created_at", ""))):
                    self.add_tweet(spec)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            if request.path.startswith("/_standin/"):
                response = self._control(request)
            else:
                response = self._api(request)
        except ApiError as exc:
            response = exc.response()
        return response(environ, start_response)

    # -- the API ---------------------------------------------------------------------------

    def _api(self, request: Request) -> Response:
        try:
            endpoint, args = API_ROUTES.bind_to_environ(request.environ).match()
        except NotFound:
            raise problem(404, "Not Found") from None
        except MethodNotAllowed:
            raise problem(405, "Method Not Allowed") from None
        mode, delay = self._take_fault(endpoint)
        if mode == "slow":
            time.sleep(delay)
        elif mode == "error500":
            raise problem(500, "Internal Server Error")
        elif mode == "error503":
            raise problem(503, "Service Unavailable")
        elif mode == "drop":
            _drop_connection(request)
        elif mode == "malformed":
            return Response('{"data": [{"id": ', 200, content_type="application/json")
        with self._lock:
            self._authenticate(request)
            headers = self._count(endpoint)
            try:
                response = getattr(self, f"_{endpoint}")(request, **args)
            except ApiError as exc:
                exc.headers.update(headers)
                raise
        response.headers.update(headers)
        if mode == "drop_after_post":
            _drop_connection(request)
        return response

    def _me(self, request: Request) -> Response:
        fields = _field_list(request, "user.fields", USER_FIELDS)
        return _json({"data": self._render_user(self._users[self.config.account_id], fields)})

    def _mentions(self, request: Request, id_: str) -> Response:
        user = self._user(id_)
        pool = [t for t in reversed(self._tweets.values()) if self._mentions_user(t, user)]
        return self._timeline(request, pool[:MENTIONS_REACHABLE])

    def _user_tweets(self, request: Request, id_: str) -> Response:
        user = self._user(id_)
        exclude = _field_list(request, "exclude", frozenset({"replies", "retweets"}))
        pool = [
            t
            for t in reversed(self._tweets.values())
            if t.author_id == user.id and not ("replies" in exclude and t.in_reply_to)
        ]
        return self._timeline(request, pool[:USER_TWEETS_REACHABLE])

    def _create_tweet(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid_request("body", request.get_data(as_text=True)[:100], "Invalid JSON")
        allowed = {"text", "reply", "quote_tweet_id", "reply_settings", "for_super_followers_only"}
        unknown = sorted(body.keys() - allowed)
        if unknown:
            key = unknown[0]
            raise invalid_request(key, str(body[key]), f"The `{key}` field is not supported.")
        text, reply = body.get("text"), body.get("reply")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("text", str(text), "Text is required for a post without media.")
        if weighted_length(text) > 280:
            raise problem(403, "Forbidden", TOO_LONG_DETAIL)
        parent = None
        if reply is not None:
            parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if not isinstance(parent_id, str) or not ID_RE.match(parent_id):
                raise invalid_request("reply.in_reply_to_tweet_id", str(parent_id), "Invalid id.")
            parent = self._tweets.get(int(parent_id))
        quoted_id = body.get("quote_tweet_id")
        if quoted_id is not None and not (isinstance(quoted_id, str) and ID_RE.match(quoted_id)):
            raise invalid_request("quote_tweet_id", str(quoted_id), "Invalid id.")
        quoted = self._tweets.get(int(quoted_id)) if quoted_id is not None else None
        account = self._users[self.config.account_id]
        if any(t.text == text and t.author_id == account.id for t in self._tweets.values()):
            raise problem(403, "Forbidden", DUPLICATE_DETAIL)
        if (reply is not None and parent is None) or (quoted_id is not None and quoted is None):
            raise problem(403, "Forbidden", DELETED_DETAIL)
        if parent is not None and not self._engages(parent, account):
            raise problem(403, "Forbidden", NOT_ENGAGED_DETAIL)
        tweet = self._create(account, text, parent, quoted, _now(), "en")
        data = {"id": str(tweet.id), "text": tweet.text, "edit_history_tweet_ids": [str(tweet.id)]}
        return _json({"data": data}, 201)

    def _timeline(self, request: Request, pool: Sequence[_Tweet]) -> Response:
        args = request.args
        max_results = _int_param(args.get("max_results"), "max_results", 10, 5, 100)
        since_id = _id_param(args.get("since_id"), "since_id")
        until_id = _id_param(args.get("until_id"), "until_id")
        before = _decode_token(args.get("pagination_token"))
        fields = _field_list(request, "tweet.fields", TWEET_FIELDS)
        fields |= _field_list(request, "post.fields", TWEET_FIELDS)
        expansions = _field_list(request, "expansions", EXPANSIONS)
        user_fields = _field_list(request, "user.fields", USER_FIELDS)
        items = [
            t
            for t in pool
            if (since_id is None or t.id > since_id)
            and (until_id is None or t.id < until_id)
            and (before is None or t.id < before)
        ]
        page = items[:max_results]
        meta: dict[str, Any] = {"result_count": len(page)}
        body: dict[str, Any] = {}
        if page:
            body["data"] = [_pick(t.full(), fields) for t in page]
            meta |= {"newest_id": str(page[0].id), "oldest_id": str(page[-1].id)}
            if len(items) > len(page):
                meta["next_token"] = _encode_token(page[-1].id)
            includes = self._includes(page, expansions, fields, user_fields)
            if includes:
                body["includes"] = includes
        body["meta"] = meta
        return _json(body)

    def _includes(
        self, page: Sequence[_Tweet], expansions: set[str], fields: set[str], user_fields: set[str]
    ) -> dict[str, Any]:
        user_ids: list[str] = []
        tweets: list[_Tweet] = []
        for t in page:
            if "author_id" in expansions:
                user_ids.append(t.author_id)
            if "in_reply_to_user_id" in expansions and t.in_reply_to is not None:
                user_ids.append(t.in_reply_to.author_id)
            if "entities.mentions.username" in expansions:
                user_ids += [m["id"] for m in t.mentioned if "id" in m]
            if "referenced_tweets.id" in expansions:
                tweets += [r for r in (t.in_reply_to, t.quote_of) if r is not None]
        if "referenced_tweets.id.author_id" in expansions:
            user_ids += [r.author_id for t in page for r in (t.in_reply_to, t.quote_of) if r]
        includes: dict[str, Any] = {}
        if user_ids:
            unique = dict.fromkeys(u for u in user_ids if u in self._users)
            includes["users"] = [self._render_user(self._users[u], user_fields) for u in unique]
        if tweets:
            unique_tweets = {t.id: t for t in tweets}.values()
            includes["tweets"] = [_pick(t.full(), fields) for t in unique_tweets]
        return includes

    def _render_user(self, user: _User, fields: set[str]) -> dict[str, Any]:
        extra = {"created_at": _iso(user.created_at), "protected": False, "verified": False}
        data = {"id": user.id, "name": user.name, "username": user.username}
        return data | {k: v for k, v in extra.items() if k in fields}

    def _user(self, user_id: str) -> _User:
        if not ID_RE.match(user_id):
            raise invalid_request(
                "id", user_id, f"The `id` query parameter value [{user_id}] is not valid"
            )
        if user_id not in self._users:
            error = {
                "value": user_id,
                "detail": f"Could not find user with id: [{user_id}].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "id",
                "resource_id": user_id,
                "type": "https://api.x.com/2/problems/resource-not-found",
            }
            raise ApiError(200, {"errors": [error]})
        return self._users[user_id]

    def _mentions_user(self, tweet: _Tweet, user: _User) -> bool:
        handle = user.username.lower()
        named = any(m["username"].lower() == handle for m in tweet.mentioned)
        return named or (tweet.in_reply_to is not None and tweet.in_reply_to.author_id == user.id)

    def _engages(self, tweet: _Tweet, user: _User) -> bool:
        quoted = tweet.quote_of is not None and tweet.quote_of.author_id == user.id
        return tweet.author_id == user.id or quoted or self._mentions_user(tweet, user)

    # -- OAuth, rate limits, faults --------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        params = {k: unquote(v) for k, v in AUTH_PARAM_RE.findall(header.removeprefix("OAuth "))}
        cfg, now = self.config, time.time()
        nonce, timestamp = params.get("oauth_nonce", ""), params.get("oauth_timestamp", "")
        if (
            not header.startswith("OAuth ")
            or params.get("oauth_signature_method") != "HMAC-SHA1"
            or params.get("oauth_consumer_key") != cfg.consumer_key
            or params.get("oauth_token") != cfg.access_token
            or not nonce
            or nonce in self._nonces
            or not timestamp.isdigit()
            or abs(now - int(timestamp)) > 300
        ):
            raise problem(401, "Unauthorized")
        signed = [(k, v) for k, v in params.items() if k not in ("oauth_signature", "realm")]
        signed += parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
        if request.mimetype == "application/x-www-form-urlencoded":
            signed += parse_qsl(request.get_data(as_text=True), keep_blank_values=True)
        url = PUBLIC_BASE_URL + request.path
        expected = sign_oauth1(request.method, url, signed, cfg.consumer_secret, cfg.access_secret)
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            raise problem(401, "Unauthorized")
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < 600}
        self._nonces[nonce] = now

    def _count(self, endpoint: str) -> dict[str, str]:
        now, limit = time.time(), self._limits[endpoint]
        window = self._windows.get(endpoint)
        if window is None or now >= window[0] + WINDOW_SECONDS:
            window = self._windows[endpoint] = [now, 0]
        headers = {"x-rate-limit-limit": str(limit)}
        if not self._no_reset:
            headers["x-rate-limit-reset"] = str(math.ceil(window[0] + WINDOW_SECONDS))
        if window[1] >= limit:
            headers["x-rate-limit-remaining"] = "0"
            raise ApiError(429, problem(429, "Too Many Requests").body, headers)
        window[1] += 1
        headers["x-rate-limit-remaining"] = str(int(limit - window[1]))
        return headers

    def _take_fault(self, endpoint: str) -> tuple[str, float]:
        with self._lock:
            mode, count = self._faults["mode"], self._faults["count"]
            if mode == "none" or count <= 0:
                return "none", 0.0
            if mode == "drop_after_post" and endpoint != "create_tweet":
                return "none", 0.0
            self._faults["count"] = count - 1
            return mode, self._faults["delay"]

    # -- the test endpoints ----------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        action = (request.method, request.path.removeprefix("/_standin/").strip("/"))
        body = request.get_json(silent=True) if request.method == "POST" else None
        with self._lock:
            if action == ("GET", "health"):
                account = {"id": self.config.account_id, "username": self.config.username}
                return _json({"status": "ok", "account": account})
            if action == ("POST", "reset"):
                self.reset()
                return _json({"status": "ok"})
            if action == ("POST", "tweets"):
                specs = body if isinstance(body, list) else [body]
                created = [self.add_tweet(spec) for spec in specs]
                return _json({"data": created if isinstance(body, list) else created[0]}, 201)
            if action == ("GET", "tweets"):
                return _json({"data": [t.full() for t in self._tweets.values()]})
            if action == ("GET", "posted"):
                return _json({"data": self.posted()})
            if action == ("POST", "faults"):
                return _json({"status": "ok", "faults": self._set_faults(body)})
            if action == ("POST", "limits"):
                return _json({"status": "ok", "limits": self._set_limits(body)})
        return _json({"error": f"no test endpoint {request.method} {request.path}"}, 404)

    def add_tweet(self, spec: Any) -> dict[str, Any]:
        """Post a customer's tweet from `{"author", "text", ...}` and return it in X's shape."""
        if not isinstance(spec, dict):
            _bad_control("a tweet must be a JSON object")
        handle, text = spec.get("author"), spec.get("text")
        if not isinstance(handle, str) or not HANDLE_RE.match(handle):
            _bad_control(f"author must be a handle of 1-15 letters, digits or _: {handle!r}")
        if not isinstance(text, str) or not text:
            _bad_control("text must be a non-empty string")
        refs = []
        for key in ("in_reply_to_tweet_id", "quote_tweet_id"):
            ref = spec.get(key)
            if ref is not None and (not ID_RE.match(str(ref)) or int(ref) not in self._tweets):
                _bad_control(f"{key} {ref!r} is not a known tweet")
            refs.append(self._tweets[int(ref)] if ref is not None else None)
        try:
            created = _parse_time(spec["created_at"]) if spec.get("created_at") else _now()
        except (TypeError, ValueError):
            _bad_control(f"created_at is not an ISO 8601 time: {spec.get('created_at')!r}")
        author = self._find_user(handle)
        if author is None:
            name = spec.get("name") if isinstance(spec.get("name"), str) else handle
            author = _User(str(self._next_id()), handle, name, created)
            self._users[author.id] = author
        tweet = self._create(author, text, refs[0], refs[1], created, spec.get("lang") or "en")
        return tweet.full()

    def posted(self) -> list[dict[str, Any]]:
        """Return what the account has posted, oldest first."""
        return [
            {
                "id": str(t.id),
                "text": t.text,
                "in_reply_to_tweet_id": str(t.in_reply_to.id) if t.in_reply_to else None,
                "created_at": _iso(t.created_at),
            }
            for t in self._tweets.values()
            if t.author_id == self.config.account_id
        ]

    def _set_faults(self, body: Any) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        mode = body.get("mode", "none")
        if mode not in FAULT_MODES:
            _bad_control(f"mode must be one of {sorted(FAULT_MODES)}")
        count, delay = body.get("count", 1), body.get("delay", 5.0)
        if not isinstance(count, int) or not isinstance(delay, int | float):
            _bad_control("count must be an integer and delay a number of seconds")
        self._faults = {"mode": mode, "count": count if mode != "none" else 0, "delay": delay}
        self._no_reset = bool(body.get("rate_limit_no_reset", False))
        return self._faults | {"rate_limit_no_reset": self._no_reset}

    def _set_limits(self, body: Any) -> dict[str, int]:
        if not isinstance(body, dict) or body.keys() - DEFAULT_LIMITS.keys():
            _bad_control(f"limits must be an object with keys among {sorted(DEFAULT_LIMITS)}")
        if not all(isinstance(v, int) and v >= 0 for v in body.values()):
            _bad_control("limits must be non-negative integers")
        self._limits |= body
        self._windows.clear()
        return dict(self._limits)

    def _find_user(self, handle: str) -> _User | None:
        return next((u for u in self._users.values() if u.username.lower() == handle.lower()), None)

    def _create(
        self,
        author: _User,
        text: str,
        parent: _Tweet | None,
        quoted: _Tweet | None,
        created_at: datetime,
        lang: str,
    ) -> _Tweet:
        tweet_id = self._next_id()
        mentioned = []
        for match in MENTION_RE.finditer(text):
            entity: dict[str, Any] = {
                "start": match.start(),
                "end": match.end(),
                "username": match.group(1),
            }
            user = self._find_user(match.group(1))
            if user is not None:
                entity["id"] = user.id
            mentioned.append(entity)
        conversation_id = parent.conversation_id if parent is not None else tweet_id
        tweet = _Tweet(tweet_id, text, author.id, created_at, conversation_id, lang, mentioned)
        tweet.in_reply_to, tweet.quote_of = parent, quoted
        self._tweets[tweet_id] = tweet
        return tweet

    def _next_id(self) -> int:
        # Snowflake-like: milliseconds since X's epoch shifted by 22 bits, always increasing.
        self._last_id = max(self._last_id + 1, (int(time.time() * 1000) - TWEPOCH_MS) << 22)
        return self._last_id


def create_standin_app(config: StandinConfig) -> StandinApp:
    """Return the stand-in WSGI application over fresh in-memory state."""
    return StandinApp(config)


def serve(config: StandinConfig, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve the stand-in with a threaded werkzeug server until interrupted or terminated."""
    server = make_server(host, port, create_standin_app(config), threaded=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    print(f"X stand-in listening on http://{host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stand-in from the command line (`python -m kb.concierge.standin`)."""
    defaults = StandinConfig()
    parser = argparse.ArgumentParser(description="Local stand-in for the X API v2.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    parser.add_argument("--seed", type=Path, help="JSON array of customer tweets to load")
    parser.add_argument("--consumer-key", default=defaults.consumer_key)
    parser.add_argument("--consumer-secret", default=defaults.consumer_secret)
    parser.add_argument("--access-token", default=defaults.access_token)
    parser.add_argument("--access-secret", default=defaults.access_secret)
    parser.add_argument("--username", default=defaults.username)
    args = parser.parse_args(argv)
    config = StandinConfig(
        consumer_key=args.consumer_key,
        consumer_secret=args.consumer_secret,
        access_token=args.access_token,
        access_secret=args.access_secret,
        username=args.username,
        seed=args.seed,
    )
    serve(config, args.host, args.port)


@click.command("x-standin")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port; 0 picks one.")
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON array of customer tweets to load at start.",
)
def x_standin_command(host: str, port: int, seed: Path | None) -> None:
    """Run the local X API stand-in with the demo credentials."""
    serve(StandinConfig(seed=seed), host, port)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # werkzeug upper-cases reason phrases; X sends "429 Too Many Requests".
    reason = f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}"
    return Response(json.dumps(body), reason, headers=headers, content_type="application/json")


def _bad_control(message: str) -> NoReturn:
    raise ApiError(400, {"error": message})


def _drop_connection(request: Request) -> NoReturn:
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    # werkzeug treats a ConnectionError from the application as a dropped connection.
    raise ConnectionAbortedError("the stand-in dropped the connection on purpose")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _pct(value: str) -> str:
    return quote(value, safe="~")


def _pick(data: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    keep = fields | {"id", "text", "edit_history_tweet_ids"}
    return {k: v for k, v in data.items() if k in keep}


def _field_list(request: Request, name: str, allowed: frozenset[str]) -> set[str]:
    raw = request.args.get(name)
    if raw is None:
        return set()
    values = raw.split(",")
    for value in values:
        if value not in allowed:
            message = (
                f"The `{name}` query parameter value [{value}] is not one of "
                f"[{','.join(sorted(allowed))}]"
            )
            raise invalid_request(name, value, message)
    return set(values)


def _int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        message = f"The `{name}` query parameter value [{raw}] is not between {low} and {high}"
        raise invalid_request(name, raw, message)
    return int(raw)


def _id_param(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    if not ID_RE.match(raw):
        message = f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$"
        raise invalid_request(name, raw, message)
    return int(raw)


def _encode_token(tweet_id: int) -> str:
    return base64.b32hexencode(str(tweet_id).encode()).decode().rstrip("=").lower()


def _decode_token(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        return int(base64.b32hexdecode(padded).decode())
    except ValueError:
        message = f"The `pagination_token` query parameter value [{token}] is not valid"
        raise invalid_request("pagination_token", token, message) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


if __name__ == "__main__":
    main()
