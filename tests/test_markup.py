"""Markdown to safe HTML: what renders, what is stripped, and the render time budget."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.db import db
from kb.markup import ALLOWED_TAGS, RenderTimeout, render_many, render_markdown
from kb.models import Thread
from tests.conftest import login, post_form

# Tags that must never come out of a post, whatever the input.
FORBIDDEN_TAGS = {
    "script", "svg", "math", "iframe", "object", "embed", "style", "form", "input", "meta",
    "base", "link", "button", "textarea", "select", "frame", "frameset", "applet", "video",
    "audio", "source", "details", "body", "html", "head", "title", "div",
}  # fmt: skip
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")
# Browsers drop whitespace and control characters inside a scheme ("jav\tascript:").
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://evil.example/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<IMG SRC="javascript:alert(1);">',
    '<img src="jav&#x09;ascript:alert(1)">',
    '<svg onload="alert(1)"><circle r="5"/></svg>',
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph>"
    "</table></mtext></math>",
    '<math href="javascript:alert(1)">click</math>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<a href="javascript:alert(1)">raw link</a>',
    '<a href="JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab entity</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">dec</a>',
    '<a href=" &#x20;javascript:alert(1)">leading space</a>',
    "<a href='java\nscript:alert(1)'>newline in scheme</a>",
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data</a>',
    '<a href="https://ok.example" onclick="alert(1)">good link, bad handler</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '[click](https://ok.example "t\\" onmouseover=\\"alert(1)")',
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[reference link][evil]\n\n[evil]: javascript:alert(1)",
    "![reference image][evil]\n\n[evil]: data:text/html,alert(1)",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    '<div onmouseover="alert(1)">hover me</div>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<form action="javascript:alert(1)"><input autofocus onfocus="alert(1)"><button>go</button>'
    "</form>",
    '<input type="text" autofocus onfocus=alert(1)>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<details open ontoggle="alert(1)">x</details>',
    '<body onload="alert(1)">',
    '<video><source onerror="alert(1)"></video>',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<table background="javascript:alert(1)"><tr><td>cell</td></tr></table>',
    "<x onclick=alert(1)>custom tag</x>",
]


class TagCollector(HTMLParser):
    """Every start tag with its attributes; inside `div.prose` only, when `prose_only`."""

    def __init__(self, prose_only: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.prose_only = prose_only
        self.depth = 0
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.prose_only and self.depth == 0:
            if tag == "div" and "prose" in (dict(attrs).get("class") or "").split():
                self.depth = 1
            return
        if tag == "div":
            self.depth += 1
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.prose_only or self.depth:
            self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "div":
            self.depth -= 1


def tags_in(html: str, prose_only: bool = False) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The start tags (and their attributes, entities decoded) of some HTML."""
    parser = TagCollector(prose_only)
    parser.feed(html)
    parser.close()
    return parser.tags


def unsafe_attributes(tags: list[tuple[str, list[tuple[str, str | None]]]]) -> list[str]:
    """Event handlers, inline styles and dangerous URL schemes among the attributes."""
    found = []
    for tag, attrs in tags:
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                found.append(f"<{tag} {name}>")
            squashed = _IGNORED_IN_SCHEME.sub("", value or "").lower()
            if name in ("href", "src", "action", "data", "background", "poster", "content"):
                if squashed.startswith(BAD_SCHEMES) or "url=javascript:" in squashed:
                    found.append(f"<{tag} {name}={value!r}>")
    return found


def assert_safe_post_html(html: str) -> None:
    """Sanitised post HTML: only allowlisted tags, no handlers, no script URLs."""
    assert "<script" not in html.lower()
    tags = tags_in(html)
    names = {tag for tag, _ in tags}
    assert not names & FORBIDDEN_TAGS, html
    assert names <= ALLOWED_TAGS, html
    assert not unsafe_attributes(tags), html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_is_neutralised_when_rendered(payload):
    html = render_markdown(f"Here is what I saw on the hub page:\n\n{payload}\n")

    assert_safe_post_html(html)


def post_problems(client, payload: str) -> list[str]:
    """Post a payload through the ask form; what is unsafe in the stored and served HTML."""
    response = post_form(
        client,
        "/ask",
        {
            "title": "Strange text appeared on my hub page",
            "body": f"Here is what I saw on the hub page:\n\n{payload}\n",
            "tags": "security",
            "confirmed": "1",  # past the "similar questions" step
        },
        token_from="/ask",
    )
    if response.status_code != 302:
        return [f"ask form answered {response.status_code}"]
    thread_id = int(re.search(r"/t/(\d+)/", response.headers["Location"]).group(1))
    stored = db.session.get(Thread, thread_id)
    problems = []
    if stored is None or not stored.body_md.endswith(payload.strip()):
        problems.append("body not stored as posted")
    else:
        try:
            assert_safe_post_html(stored.body_html)
        except AssertionError:
            problems.append(f"stored HTML unsafe: {stored.body_html!r}")
    page = client.get(response.headers["Location"])
    served = page.get_data(as_text=True)
    everything = tags_in(served)
    prose = tags_in(served, prose_only=True)
    if page.status_code != 200 or not prose:
        problems.append(f"thread page answered {page.status_code} without the post")
    # The site's own scripts carry this response's CSP nonce; any other script is injected.
    nonce = re.search(r"'nonce-([^']+)'", page.headers.get("Content-Security-Policy", ""))
    for tag, attrs in everything:
        if tag == "script" and (nonce is None or ("nonce", nonce.group(1)) not in attrs):
            problems.append("a <script> tag without the page's nonce on the served page")
    problems += [f"served page: {bad}" for bad in unsafe_attributes(everything)]
    problems += [f"served post: <{tag}>" for tag, _ in prose if tag in FORBIDDEN_TAGS]
    return problems


def test_xss_payloads_are_neutralised_when_posted_through_the_ask_form(client, make_user):
    # One app for all payloads: a fresh app per payload costs ~0.4 s of template compiling.
    make_user("ann")
    login(client, "ann")

    failures = {}
    for payload in XSS_PAYLOADS:
        problems = post_problems(client, payload)
        if problems:
            failures[payload] = problems

    assert failures == {}
    assert db.session.query(Thread).count() == len(XSS_PAYLOADS)


def test_fenced_code_keeps_text_and_escapes_html():
    html = render_markdown("Try this:\n\n```python\nprint('<b>hi</b>')\n```\n")

    assert re.search(r"<pre><code[^>]*>print\(", html)
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "<b>" not in html


def test_tables_render_with_alignment():
    html = render_markdown("| Plan | Speed |\n|:-----|------:|\n| Fibre 500 | 500 Mb |\n")

    tags = tags_in(html)
    assert [t for t, _ in tags] == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert ("align", "left") in tags[3][1]
    assert ("align", "right") in tags[8][1]
    assert "Fibre 500" in html


def test_links_keep_http_https_mailto_and_get_rel():
    html = render_markdown(
        'See [the status page](https://skylark.example/status "Status"), '
        "[old](http://skylark.example/old) or [mail us](mailto:help@skylark.example)."
    )

    links = [dict(attrs) for tag, attrs in tags_in(html) if tag == "a"]
    assert [a["href"] for a in links] == [
        "https://skylark.example/status",
        "http://skylark.example/old",
        "mailto:help@skylark.example",
    ]
    assert links[0]["title"] == "Status"
    assert all("nofollow" in a["rel"].split() for a in links)


def test_images_by_url_render():
    html = render_markdown('![Hub 3 lights](https://img.skylark.example/hub3.png "Front")')

    images = [dict(attrs) for tag, attrs in tags_in(html) if tag == "img"]
    assert images == [
        {"src": "https://img.skylark.example/hub3.png", "alt": "Hub 3 lights", "title": "Front"}
    ]


def test_bare_urls_become_links_without_trailing_punctuation():
    html = render_markdown("Check https://skylark.example/status?area=m1. Then restart.")

    links = [dict(attrs) for tag, attrs in tags_in(html) if tag == "a"]
    assert [a["href"] for a in links] == ["https://skylark.example/status?area=m1"]
    assert html.count("https://skylark.example/status?area=m1") == 2  # href and link text
    assert "m1</a>. Then restart." in html


def test_bare_url_inside_a_markdown_link_is_not_linked_twice():
    html = render_markdown("[status](https://skylark.example/status) and `https://x.example/y`")

    assert html.count("<a ") == 1
    assert "<code>https://x.example/y</code>" in html


# The slow ones are refused; the others render quickly. Each must settle within ~3 s.
TOO_SLOW = {
    "20k open brackets": "[" * 20000,
    "5k link openers": "[a](" * 5000,
}
HEAVY_BUT_FINE = {
    "50k asterisks": "*" * 50000 + "a",
    "5k nested quotes": "> " * 5000 + "deep",
}


@pytest.mark.parametrize("text", TOO_SLOW.values(), ids=TOO_SLOW.keys())
def test_pathological_input_is_cut_off_and_renderer_recovers(text):
    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        render_markdown(text)
    assert time.monotonic() - started < 3.5  # 1 s budget; 3 s if the child must be killed

    started = time.monotonic()
    assert render_markdown("**still** works") == "<p><strong>still</strong> works</p>"
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("text", HEAVY_BUT_FINE.values(), ids=HEAVY_BUT_FINE.keys())
def test_heavy_input_finishes_within_budget(text):
    started = time.monotonic()
    try:
        html = render_markdown(text)
    except RenderTimeout:
        html = None
    assert time.monotonic() - started < 3.5
    if html is not None:
        assert_safe_post_html(html)
    assert render_markdown("after *that*") == "<p>after <em>that</em></p>"


def test_too_slow_question_is_refused_by_the_ask_form(client, make_user):
    make_user("ann")
    login(client, "ann")

    started = time.monotonic()
    response = post_form(
        client,
        "/ask",
        {
            "title": "Why does my post not format",
            "body": "[" * 20000,
            "tags": "help",
            "confirmed": "1",
        },
        token_from="/ask",
    )

    assert time.monotonic() - started < 3.5
    assert response.status_code == 400
    assert "could not be formatted in time" in response.get_data(as_text=True)
    assert db.session.query(Thread).count() == 0


def test_render_many_gives_none_for_the_slow_item_only():
    started = time.monotonic()
    out = render_many(["**one**", "[" * 20000, "two [link](https://a.example)"], workers=2)

    assert time.monotonic() - started < 8.0
    assert out[0] == "<p><strong>one</strong></p>"
    assert out[1] is None
    assert out[2].startswith('<p>two <a href="https://a.example"')


def test_render_many_of_nothing_is_empty():
    assert render_many([]) == []


PLAIN = st.text(
    alphabet=st.sampled_from(list("abcdefghij XYZ0123456789.,;:!?'\"()-+=/%$£é\n")), max_size=400
)


@settings(max_examples=300, deadline=None)
@given(PLAIN)
def test_the_plain_text_shortcut_matches_python_markdown(text: str) -> None:
    """Syntax-free text skips the child process; its HTML must be what Markdown would make."""
    from kb.markup import _build_markdown, plain_paragraphs

    fast = plain_paragraphs(text)
    if fast is not None:
        assert fast == _build_markdown().convert(text)
