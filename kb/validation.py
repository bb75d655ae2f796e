"""Input rules shared by the web forms, the importer and the API."""

from __future__ import annotations

import re
import unicodedata

from kb.errors import ValidationError

TITLE_MIN, TITLE_MAX = 10, 150
BODY_MIN, BODY_MAX = 20, 30_000
COMMENT_MIN, COMMENT_MAX = 5, 600
TAGS_MIN, TAGS_MAX = 1, 5
TAG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_RE = re.compile(r"^[a-z0-9_-]{3,30}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s.]{2,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: object) -> str:
    """A str with control characters removed and line endings normalised."""
    text = value if isinstance(value, str) else ""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def check_title(value: object) -> str:
    """A question title of 10 to 150 characters."""
    title = " ".join(clean_text(value).split())
    if len(title) < TITLE_MIN:
        raise ValidationError(f"Title must be at least {TITLE_MIN} characters.", "title")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"Title must be at most {TITLE_MAX} characters.", "title")
    return title


def check_body(value: object, field: str = "body") -> str:
    """A Markdown body of 20 to 30,000 characters."""
    body = clean_text(value).strip()
    if len(body) < BODY_MIN:
        raise ValidationError(f"Write at least {BODY_MIN} characters.", field)
    if len(body) > BODY_MAX:
        raise ValidationError(f"Keep it under {BODY_MAX:,} characters.", field)
    return body


def check_comment(value: object) -> str:
    """A plain-text comment of 5 to 600 characters."""
    body = " ".join(clean_text(value).split())
    if len(body) < COMMENT_MIN:
        raise ValidationError(f"Comments need at least {COMMENT_MIN} characters.", "body")
    if len(body) > COMMENT_MAX:
        raise ValidationError(f"Comments are limited to {COMMENT_MAX} characters.", "body")
    return body


def parse_tags(value: object) -> list[str]:
    """1 to 5 tags of lowercase letters, digits and dashes, from a list or a string."""
    if isinstance(value, str):
        raw = re.split(r"[\s,]+", value)
    elif isinstance(value, list | tuple):
        raw = [v if isinstance(v, str) else "\x00" for v in value]
    else:
        raise ValidationError("Tags must be a list of words.", "tags")
    tags: list[str] = []
    for item in raw:
        tag = item.strip().lower()
        if not tag:
            continue
        if len(tag) > 30 or not TAG_RE.match(tag):
            shown = unicodedata.normalize("NFKC", tag)[:30]
            raise ValidationError(
                f"'{shown}' is not a valid tag: use lowercase letters, digits and dashes.", "tags"
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) < TAGS_MIN:
        raise ValidationError("Add at least one tag.", "tags")
    if len(tags) > TAGS_MAX:
        raise ValidationError(f"Use at most {TAGS_MAX} tags.", "tags")
    return tags


def check_name(value: object) -> str:
    """A user name: 3 to 30 lowercase letters, digits, underscores or dashes."""
    name = clean_text(value).strip().lower()
    if not NAME_RE.match(name):
        raise ValidationError(
            "Names are 3 to 30 lowercase letters, digits, underscores or dashes.", "name"
        )
    return name


def check_email(value: object) -> str:
    """A plausible email address."""
    email = clean_text(value).strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValidationError("Enter a valid email address.", "email")
    return email


def check_password(value: object) -> str:
    """A password of 8 to 200 characters."""
    password = value if isinstance(value, str) else ""
    if len(password) < 8:
        raise ValidationError("Passwords need at least 8 characters.", "password")
    if len(password) > 200:
        raise ValidationError("Passwords are limited to 200 characters.", "password")
    return password
