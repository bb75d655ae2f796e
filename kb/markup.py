"""Markdown to safe HTML: the only importer of markdown and of the sanitiser.

Python-Markdown is quadratic on some inputs, so rendering happens in a child process
with a time budget: a post that cannot be formatted in time is refused, never hangs.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import re
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from flask import Flask

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub",
    "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "abbr": {"title"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_BLOCK_END = re.compile(r"</(?:p|li|h\d|pre|td|th|blockquote|dd|dt)>|<br\s*/?>", re.I)
_BARE_URL = r"(?<![\(<\"'=\]])\b(https?://[^\s<>\"'\)\]]+[^\s<>\"'\)\]\.,;:!?])"


class RenderTimeout(Exception):
    """The text could not be formatted within the time budget."""


class _Timeout(Exception):
    pass


def _build_markdown() -> Any:
    import markdown
    from markdown.inlinepatterns import LinkInlineProcessor

    class BareUrlProcessor(LinkInlineProcessor):
        def handleMatch(self, m: re.Match[str], data: str) -> tuple[Any, int, int]:  # noqa: N802
            import xml.etree.ElementTree as etree

            el = etree.Element("a")
            el.set("href", m.group(1))
            el.text = markdown.util.AtomicString(m.group(1))
            return el, m.start(0), m.end(0)

    class AutolinkExtension(markdown.Extension):
        def extendMarkdown(self, md: Any) -> None:  # noqa: N802
            md.inlinePatterns.register(BareUrlProcessor(_BARE_URL, md), "bare_url", 95)

    return markdown.Markdown(
        extensions=["fenced_code", "tables", "sane_lists", AutolinkExtension()],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )


def sanitize_html(html: str) -> str:
    """Keep only the allowlisted tags, attributes and URL schemes."""
    import nh3

    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer ugc",
        strip_comments=True,
    )


_md: Any = None


def _render_here(text: str, budget: float) -> str | None:
    """Render in this (child) process, giving up after `budget` seconds."""
    global _md
    plain = plain_paragraphs(text)
    if plain is not None:
        return sanitize_html(plain)
    if _md is None:
        _md = _build_markdown()

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        html = _md.reset().convert(text)
    except _Timeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return sanitize_html(html)


def _child_loop(conn: Connection, budget: float) -> None:
    """Serve render requests from the parent until the pipe closes."""
    global _md
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Import and build everything before saying ready: start-up is not the first post's budget.
    _md = _build_markdown()
    sanitize_html("")
    conn.send("ready")
    while True:
        try:
            text = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_render_here(text, budget))


_START_TIMEOUT = 60.0


class _Renderer:
    """One long-lived child process per parent process, restarted when it overruns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._pid = 0

    def _start(self, budget: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child_loop, args=(child, budget), daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn, self._pid = proc, parent, os.getpid()
        # A new interpreter can take seconds to start on a busy machine; wait for it apart
        # from the render budget, so a slow start does not refuse an ordinary post.
        try:
            ready = parent.poll(_START_TIMEOUT) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise RenderTimeout("The formatter did not start.")

    def stop(self) -> None:
        """Stop the child process, if any."""
        if self._proc is not None and self._pid == os.getpid():
            if self._conn is not None:
                self._conn.close()
            self._proc.kill()
            self._proc.join(5)
            self._proc.close()
        self._proc = self._conn = None

    def render(self, text: str, budget: float) -> str:
        with self._lock:
            if self._proc is None or self._pid != os.getpid() or not self._proc.is_alive():
                self._proc = self._conn = None
                self._start(budget)
            assert self._conn is not None
            try:
                self._conn.send(text)
                # The child stops itself at `budget`; the extra margin covers process hiccups.
                ready = self._conn.poll(budget + 2.0)
                html = self._conn.recv() if ready else None
            except (EOFError, OSError):
                ready, html = False, None
            if not ready:
                self.stop()
            if html is None:
                raise RenderTimeout("This post could not be formatted in time.")
            return html


_renderer = _Renderer()
atexit.register(_renderer.stop)
_budget = 1.0


# Text with none of Markdown's syntax renders to plain paragraphs: no child process needed.
# (Checked against Python-Markdown on 8,500 generated posts; tests/test_markup.py keeps it so.)
_MARKDOWN_SYNTAX = re.compile(r"[\\`*_\[\]#<>|&]|://|www\.|^[ \t]|[ \t]$|^\d+[.)]\s|^[-=+~]", re.M)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def plain_paragraphs(text: str) -> str | None:
    """The HTML Python-Markdown would make of syntax-free text, or None if it has syntax."""
    import html as html_lib

    if _MARKDOWN_SYNTAX.search(text):
        return None
    paragraphs = [p for p in _BLANK_LINES.split(text.strip()) if p.strip()]
    return "\n".join(f"<p>{html_lib.escape(p, quote=False)}</p>" for p in paragraphs)


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML within the time budget, or RenderTimeout."""
    plain = plain_paragraphs(text)
    if plain is not None:
        return sanitize_html(plain)
    return _renderer.render(text, _budget)


def _warm_worker() -> None:
    """Build the renderer when a pool process starts, outside any post's budget."""
    global _md
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _md = _build_markdown()
    sanitize_html("")


def _render_batch(texts: list[str], budget: float) -> list[str | None]:
    """Render a batch in a pool process, each text with its own budget."""
    return [_render_here(text, budget) for text in texts]


class RenderPool:
    """Renderer processes kept for many batches (a bulk import renders chunk after chunk).

    Starting processes costs about a second each time: one pool for a whole import instead
    of one per chunk, and `submit` returns at once so the caller can write the previous
    chunk while this one renders.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 4))
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=_warm_worker
        )

    def submit(self, texts: Iterable[str]) -> Callable[[], list[str | None]]:
        """Start rendering; the returned function waits for the results, in order."""
        items = list(texts)
        size = max(1, min(500, len(items) // (self.workers * 4) or 1))
        futures = [
            self._pool.submit(_render_batch, items[i : i + size], _budget)
            for i in range(0, len(items), size)
        ]
        return lambda: [html for future in futures for html in future.result()]

    def close(self) -> None:
        """Stop the processes."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_many(texts: Iterable[str], workers: int | None = None) -> list[str | None]:
    """Render many texts in parallel processes; None where one ran out of time."""
    items = list(texts)
    if not items:
        return []
    with RenderPool(workers) as pool:
        return pool.submit(items)()


def plain_text(html: str) -> str:
    """Text content of rendered HTML, for search and previews."""
    import html as html_lib

    import nh3

    spaced = _BLOCK_END.sub(" ", html)
    return re.sub(r"\s+", " ", html_lib.unescape(nh3.clean(spaced, tags=set()))).strip()


def init_app(app: Flask) -> None:
    """Take the render time budget from the settings."""
    global _budget
    _budget = float(app.config["RENDER_TIMEOUT"])
