"""API fixtures: the live server from the browser tests."""

from tests.browser.conftest import live_server  # noqa: F401  (a fixture used here too)
