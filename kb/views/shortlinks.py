"""Short links: /s/<code> redirects inside the site and counts the click."""

from __future__ import annotations

import re

from flask import Blueprint, redirect, request
from werkzeug.wrappers import Response

from kb.security import error_page
from kb.shortlinks import is_internal_path, is_preview_fetcher, record_click, resolve

bp = Blueprint("shortlinks", __name__)
CODE_RE = re.compile(r"^[0-9A-Za-z]{2,16}$")


@bp.get("/s/<code>")
def follow(code: str) -> Response | tuple[str, int]:
    """Redirect (302) to the canonical URL; an unknown code gets a 404 with a search box."""
    target = resolve(code) if CODE_RE.match(code) else None
    if target is None or not is_internal_path(target[0]):
        return error_page(404, "That short link doesn't lead anywhere. Try searching instead.")
    path, mention_id = target
    if not is_preview_fetcher(request.headers.get("User-Agent", "")):
        record_click(code, mention_id, request.headers.get("Referer", ""))
    return redirect(path, 302)
