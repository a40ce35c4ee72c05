"""Bounded text for statuses and logs: whatever the input, a status message or a log line stays
small, and never repeats a whole input back.

A status is written to the parent on every sync and printed by ``kubectl get``; thousands of
errors, or one error quoting a megabyte of input, must not become a megabyte of status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_STATUS_MESSAGE = 8192  # characters of one status message
MAX_ONE_MESSAGE = 1024  # characters of one error inside it
MAX_LOG_TEXT = 256  # characters of input quoted in a log line


def clip(text: str, limit: int = MAX_LOG_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def join_capped(messages: Iterable[str], limit: int = MAX_STATUS_MESSAGE) -> str:
    """``"; "``-joined messages, each clipped, as many as fit in ``limit``, then how many more."""
    parts: list[str] = []
    size = 0
    items = list(messages)
    for i, message in enumerate(items):
        piece = clip(message, MAX_ONE_MESSAGE)
        if parts and size + len(piece) + 2 > limit:
            rest = len(items) - i
            parts.append(f"... and {rest:,} more error{'s' if rest != 1 else ''}")
            break
        parts.append(piece)
        size += len(piece) + 2
    return "; ".join(parts)


def cap_status(status: Any) -> Any:
    """A status whose ``message`` and condition messages fit ``MAX_STATUS_MESSAGE`` (unchanged
    when they already do; never mutates its input)."""
    if not isinstance(status, dict):
        return status
    out = status
    message = status.get("message")
    if isinstance(message, str) and len(message) > MAX_STATUS_MESSAGE:
        out = {**out, "message": clip(message, MAX_STATUS_MESSAGE)}
    conditions = status.get("conditions")
    if isinstance(conditions, list) and any(_long_message(c) for c in conditions):
        out = {**out, "conditions": [
            {**c, "message": clip(c["message"], MAX_STATUS_MESSAGE)} if _long_message(c) else c
            for c in conditions]}
    return out


def _long_message(condition: Any) -> bool:
    return (isinstance(condition, dict) and isinstance(condition.get("message"), str)
            and len(condition["message"]) > MAX_STATUS_MESSAGE)
