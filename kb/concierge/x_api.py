"""Gateway to the X API v2: the only module in the project that imports tweepy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

# tweepy hard-codes this host; the transport adapter is mounted on it.
PUBLIC_BASE_URL = "https://api.twitter.com"
MENTION_TWEET_FIELDS = [
    "created_at",
    "conversation_id",
    "referenced_tweets",
    "entities",
    "lang",
    "author_id",
]
MIN_PAGE, MAX_PAGE = 5, 100
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class XError(Exception):
    """Base class of every error the gateway raises."""


class XRateLimited(XError):
    """The endpoint's rate limit is spent; `reset_at` is the epoch second it resets, if known."""

    def __init__(self, reset_at: float | None, message: str = "rate limited") -> None:
        super().__init__(message)
        self.reset_at = reset_at


class XDuplicate(XError):
    """X refused the post because the account already posted the same text."""


class XForbidden(XError):
    """X refused the request (403), e.g. a reply to a post that does not mention the account."""


class XTransient(XError):
    """A failure worth retrying later: 5xx, timeout, dropped connection, malformed answer."""


class XAuthError(XError):
    """X rejected the credentials (401)."""


class XBadRequest(XError):
    """X rejected the request itself (400, 404 and other 4xx): retrying will not help."""


@dataclass(frozen=True)
class Account:
    """The authenticated account."""

    id: str
    username: str


@dataclass
class Mention:
    """One post that mentions the account, reduced to what the concierge needs."""

    id: str
    text: str
    author_id: str
    author_username: str | None
    created_at: datetime | None
    conversation_id: str | None
    in_reply_to_id: str | None
    is_repost: bool
    lang: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass
class MentionPage:
    """One page of the mentions timeline, newest first."""

    mentions: list[Mention]
    newest_id: str | None
    next_token: str | None


class XTransportAdapter(HTTPAdapter):
    """Give every request a timeout and, with a base URL, send it there instead of X."""

    def __init__(self, timeout: tuple[float, float], base_url: str | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.base_url = base_url.rstrip("/") if base_url else None

    def rebase(self, url: str) -> str:
        """Return `url` moved onto the base URL, keeping its path and query."""
        if self.base_url is None:
            return url
        base, original = urlsplit(self.base_url), urlsplit(url)
        path = base.path + original.path
        return urlunsplit((base.scheme, base.netloc, path, original.query, ""))

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send the already signed request to the base URL with the configured timeout."""
        if self.base_url is not None and request.url:
            request = request.copy()
            request.url = self.rebase(request.url)
            # The session chose proxies for the public host; choose again for the new one.
            host = urlsplit(request.url).hostname or ""
            proxies = (
                {} if host in LOOPBACK_HOSTS else requests.utils.get_environ_proxies(request.url)
            )
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


class XGateway:
    """The concierge's X account, reached through tweepy with OAuth 1.0a user context."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        access_token: str,
        access_secret: str,
        base_url: str | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
    ) -> None:
        # return_type=dict: we parse the JSON ourselves so a malformed item cannot crash us
        # inside tweepy's model classes, and no tweepy object leaks out of this module.
        self._client = tweepy.Client(
            consumer_key=api_key,
            consumer_secret=api_secret,
            access_token=access_token,
            access_token_secret=access_secret,
            return_type=dict,
        )
        self._access_token = access_token
        self._client.session.mount(PUBLIC_BASE_URL + "/", XTransportAdapter(timeout, base_url))

    @property
    def account_id(self) -> str:
        """Return the account's user id, the numeric prefix of the access token."""
        return self._access_token.partition("-")[0]

    def close(self) -> None:
        """Close the HTTP session and its pooled connections."""
        self._client.session.close()

    def __enter__(self) -> XGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get_me(self) -> Account:
        """Return the authenticated account."""
        body = self._call(self._client.get_me, user_auth=True)
        data = body.get("data")
        if not isinstance(data, dict) or not _is_id(data.get("id")):
            raise XTransient("users/me answered without a user")
        username = data.get("username")
        if not isinstance(username, str):
            raise XTransient("users/me answered without a username")
        return Account(id=str(data["id"]), username=username)

    def get_mentions(
        self,
        user_id: str,
        since_id: str | None = None,
        pagination_token: str | None = None,
        max_results: int = 100,
    ) -> MentionPage:
        """Return one page of posts mentioning `user_id`, newest first."""
        body = self._call(
            self._client.get_users_mentions,
            id=user_id,
            since_id=since_id,
            pagination_token=pagination_token,
            max_results=_clamp_page_size(max_results),
            expansions=["author_id"],
            tweet_fields=MENTION_TWEET_FIELDS,
            user_fields=["username"],
            user_auth=True,
        )
        items = _data_list(body, "mentions")
        users = _usernames(body.get("includes"))
        mentions = [m for m in (parse_mention(item, users) for item in items) if m is not None]
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        newest_id = meta.get("newest_id")
        if not _is_id(newest_id):
            newest_id = max((m.id for m in mentions), key=int, default=None)
        next_token = meta.get("next_token")
        return MentionPage(
            mentions=mentions,
            newest_id=str(newest_id) if newest_id is not None else None,
            next_token=next_token if isinstance(next_token, str) and next_token else None,
        )

    def create_reply(self, text: str, in_reply_to_id: str) -> str:
        """Post `text` as a reply to `in_reply_to_id` and return the new post's id."""
        body = self._call(
            self._client.create_tweet,
            text=text,
            in_reply_to_tweet_id=in_reply_to_id,
            user_auth=True,
        )
        data = body.get("data")
        if not isinstance(data, dict) or not _is_id(data.get("id")):
            # The post may exist: callers reconcile with find_reply_to before trying again.
            raise XTransient("create tweet answered without an id")
        return str(data["id"])

    def find_reply_to(
        self, user_id: str, tweet_id: str, max_pages: int = 10, exclude: Collection[str] = ()
    ) -> str | None:
        """Return the id of `user_id`'s reply to `tweet_id` if one exists among recent posts;
        replies whose ids are in `exclude` (already accounted for) do not count."""
        token: str | None = None
        for _ in range(max_pages):
            # A reply always has a larger snowflake id than its parent: since_id bounds the scan.
            body = self._call(
                self._client.get_users_tweets,
                id=user_id,
                since_id=tweet_id,
                pagination_token=token,
                max_results=MAX_PAGE,
                tweet_fields=["referenced_tweets", "in_reply_to_user_id"],
                user_auth=True,
            )
            for item in _data_list(body, "user tweets"):
                if _replied_to(item) == str(tweet_id) and _is_id(item.get("id")):
                    if str(item["id"]) not in exclude:
                        return str(item["id"])
            meta = body.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                return None
        return None

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        try:
            body = method(**kwargs)
        except tweepy.TooManyRequests as exc:
            reset = exc.reset_time
            raise XRateLimited(float(reset) if reset is not None else None, str(exc)) from exc
        except tweepy.Unauthorized as exc:
            raise XAuthError(str(exc)) from exc
        except tweepy.Forbidden as exc:
            if _is_duplicate(exc):
                raise XDuplicate(str(exc)) from exc
            raise XForbidden(str(exc)) from exc
        except tweepy.TwitterServerError as exc:
            raise XTransient(str(exc)) from exc
        except tweepy.HTTPException as exc:
            raise XBadRequest(str(exc)) from exc
        except (requests.RequestException, ValueError) as exc:
            # Timeouts, refused or dropped connections, malformed JSON, a bad reset header.
            raise XTransient(f"{type(exc).__name__}: {exc}") from exc
        except tweepy.TweepyException as exc:
            raise XError(str(exc)) from exc
        if not isinstance(body, dict):
            raise XTransient(f"expected a JSON object, got {type(body).__name__}")
        if "data" not in body and body.get("errors") and "meta" not in body:
            raise XBadRequest(f"X answered with errors only: {body['errors']!r}"[:500])
        return body


def parse_mention(item: Any, usernames: dict[str, str]) -> Mention | None:
    """Turn one post object into a Mention, or log it and return None if it is malformed."""
    if not isinstance(item, dict):
        log.warning("skipping a mention that is not an object: %r", item)
        return None
    tweet_id, text, author_id = item.get("id"), item.get("text"), item.get("author_id")
    if not _is_id(tweet_id) or not isinstance(text, str) or not _is_id(author_id):
        log.warning("skipping a mention without id, text or author_id: %r", item)
        return None
    refs = item.get("referenced_tweets")
    refs = refs if isinstance(refs, list) else []
    conversation_id = item.get("conversation_id")
    lang = item.get("lang")
    return Mention(
        id=str(tweet_id),
        text=text,
        author_id=str(author_id),
        author_username=usernames.get(str(author_id)),
        created_at=_parse_time(item.get("created_at")),
        conversation_id=str(conversation_id) if _is_id(conversation_id) else None,
        in_reply_to_id=_replied_to(item),
        is_repost=any(isinstance(r, dict) and r.get("type") == "retweeted" for r in refs),
        lang=lang if isinstance(lang, str) else None,
        raw=item,
    )


def _clamp_page_size(max_results: int) -> int:
    clamped = max(MIN_PAGE, min(MAX_PAGE, int(max_results)))
    if clamped != max_results:
        log.debug("max_results %r clamped to %d", max_results, clamped)
    return clamped


def _data_list(body: dict[str, Any], what: str) -> list[Any]:
    data = body.get("data", [])
    if not isinstance(data, list):
        raise XTransient(f"{what}: expected a list in data, got {type(data).__name__}")
    return data


def _usernames(includes: Any) -> dict[str, str]:
    users = includes.get("users") if isinstance(includes, dict) else None
    if not isinstance(users, list):
        return {}
    return {
        str(u["id"]): u["username"]
        for u in users
        if isinstance(u, dict) and _is_id(u.get("id")) and isinstance(u.get("username"), str)
    }


def _replied_to(item: dict[str, Any]) -> str | None:
    refs = item.get("referenced_tweets")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to" and _is_id(ref.get("id")):
            return str(ref["id"])
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value).isdigit()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        log.warning("unparseable created_at %r", value)
        return None


def _is_duplicate(exc: tweepy.HTTPException) -> bool:
    messages = " ".join(str(m) for m in exc.api_messages)
    return "duplicate content" in messages.lower()
