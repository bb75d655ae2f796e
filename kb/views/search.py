"""The search page."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from kb.search.service import run_search
from kb.views import page_arg

bp = Blueprint("search", __name__)


@bp.get("/search")
def index() -> str:
    """Search threads and articles, with filters and 'did you mean'."""
    page = page_arg()
    result = run_search(
        request.args.get("q", ""),
        tag=request.args.get("tag", ""),
        state=request.args.get("state", ""),
        kind=request.args.get("type", ""),
        page=page,
    )
    return render_template("search/index.html", r=result, page=page)
