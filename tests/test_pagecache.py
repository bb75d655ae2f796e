"""The page cache on its own: versions, age, the byte bound, least recently used first out."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import create_app
from kb.pagecache import ENTRY_OVERHEAD, PageCache
from tests.conftest import app_config


def cost(key: str, body: bytes) -> int:
    """What an entry counts against the bound."""
    return len(body) + len(key) + ENTRY_OVERHEAD


def test_a_page_is_kept_for_its_version_only():
    cache = PageCache(max_bytes=100_000, max_age=60)
    cache.put("/t/1/a", 3, b"<p>version three</p>")

    assert cache.get("/t/1/a", 3).body == b"<p>version three</p>"
    assert cache.get("/t/1/a", 4) is None  # the thread changed: render again
    assert cache.get("/t/2/b", 3) is None

    cache.put("/t/1/a", 4, b"<p>four</p>")
    assert cache.get("/t/1/a", 4).body == b"<p>four</p>"
    assert len(cache) == 1 and cache.size == cost("/t/1/a", b"<p>four</p>")


def test_a_page_older_than_max_age_is_rendered_again(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("kb.pagecache.time.monotonic", lambda: clock[0])
    cache = PageCache(max_bytes=100_000, max_age=60)
    cache.put("/t/1/a", 1, b"page")

    clock[0] += 60
    assert cache.get("/t/1/a", 1) is not None
    clock[0] += 0.5
    assert cache.get("/t/1/a", 1) is None
    assert len(cache) == 0 and cache.size == 0


def test_the_byte_bound_drops_the_least_recently_used_first():
    body = b"x" * 1000
    cache = PageCache(max_bytes=3 * cost("/t/1/a", body), max_age=60)
    for n in (1, 2, 3):
        cache.put(f"/t/{n}/a", 1, body)
    assert len(cache) == 3

    assert cache.get("/t/1/a", 1) is not None  # 1 is now the most recently used
    cache.put("/t/4/a", 1, body)

    assert cache.get("/t/2/a", 1) is None  # the least recently used went
    assert all(cache.get(f"/t/{n}/a", 1) is not None for n in (1, 3, 4))
    assert cache.size == 3 * cost("/t/1/a", body) <= cache.max_bytes

    cache.put("/t/5/a", 1, b"y" * 2000)  # needs the room of two pages: 1 and 3 go
    assert [n for n in (1, 3, 4, 5) if cache.get(f"/t/{n}/a", 1) is not None] == [4, 5]
    assert cache.size <= cache.max_bytes


def test_a_page_bigger_than_the_bound_is_served_but_not_kept():
    cache = PageCache(max_bytes=500, max_age=60)
    page = cache.put("/t/1/a", 1, b"z" * 600)

    assert page.body == b"z" * 600
    assert len(cache) == 0 and cache.size == 0


def test_pages_with_a_csrf_placeholder_are_marked():
    cache = PageCache(max_bytes=10_000, max_age=60)
    with_form = cache.put("/t/1/a", 1, f'<input value="{cache.csrf_mark}">'.encode())
    without = cache.put("/t/2/a", 1, b"<p>no form</p>")

    assert with_form.needs_csrf and not without.needs_csrf
    assert cache.csrf_mark != PageCache(10_000, 60).csrf_mark  # random per cache


@pytest.mark.parametrize(("setting", "max_bytes"), [(32, 32 * 1024 * 1024), (0, 0), (0.5, 524288)])
def test_each_app_has_its_own_cache_sized_by_the_setting(tmp_path: Path, setting, max_bytes):
    one = create_app(app_config(tmp_path / "one", PAGE_CACHE_MB=setting))
    two = create_app(app_config(tmp_path / "two", PAGE_CACHE_MB=setting))

    assert one.extensions["kb_page_cache"] is not two.extensions["kb_page_cache"]
    assert one.extensions["kb_page_cache"].max_bytes == max_bytes
    assert one.extensions["kb_page_cache"].max_age == 60.0
