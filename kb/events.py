"""Domain events, delivered inside the writer's transaction.

Operations call `emit("answer.created", {...})` before they commit; subscribers (notifications,
webhook outbox) add their rows to the same session, so an event and its effects commit together
or not at all. Subscribers never commit and never call out to the network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EVENTS = (
    "thread.created",
    "answer.created",
    "comment.created",
    "thread.solved",
    "mention.received",
    "reply.sent",
)
Subscriber = Callable[[str, dict[str, Any]], None]
_subscribers: dict[str, list[Subscriber]] = {}


def subscribe(name: str, subscriber: Subscriber) -> None:
    """Call `subscriber(name, payload)` for an event ("*" for every event); idempotent."""
    listeners = _subscribers.setdefault(name, [])
    if subscriber not in listeners:
        listeners.append(subscriber)


def emit(name: str, payload: dict[str, Any]) -> None:
    """Tell the subscribers; they write into the caller's open transaction."""
    for subscriber in [*_subscribers.get(name, []), *_subscribers.get("*", [])]:
        subscriber(name, payload)
