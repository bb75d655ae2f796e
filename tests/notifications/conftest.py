"""Fixtures for the notification tests: a local SMTP server and a logged-in helper."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.smtp_sink import SmtpSink, start_sink


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that records what it receives."""
    sink, server, thread = start_sink()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
