"""The node's logs: one JSON object per record on stderr, in every process of a node (the
``pid`` tells the node process from its gateway processes).

Every field of a record is bounded here, in one place: a log line never carries more than
:data:`MAX_FIELD_CHARS` of any one argument (a client-supplied string can be megabytes long) nor
more than :data:`MAX_MESSAGE_CHARS` in all.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

#: At most this many characters of any one argument of a log record.
MAX_FIELD_CHARS = 256
#: At most this many characters of a record's message or exception text.
MAX_MESSAGE_CHARS = 4096


def bound(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how many it dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more chars]"


def _bound_arg(value: object) -> object:
    # Numbers keep their type, so %d and %.1f still format them; anything else is text.
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bound(repr(bytes(value[: MAX_FIELD_CHARS + 1])))
    return bound(str(value))


def bounded_message(record: logging.LogRecord) -> str:
    """The record's message, each argument bounded before it is formatted, and the whole."""
    args: Any = record.args
    if isinstance(args, Mapping):
        args = {key: _bound_arg(value) for key, value in args.items()}
    elif args:
        args = tuple(_bound_arg(value) for value in args)
    text = bound(str(record.msg), MAX_MESSAGE_CHARS)
    if args:
        try:
            text = text % args
        except (TypeError, ValueError):
            text = f"{text} {args!r}"
    return bound(text, MAX_MESSAGE_CHARS)


class JsonLines(logging.Formatter):
    """One JSON object per log record: time, level, process id, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "pid": record.process,
            "logger": bound(record.name),
            "msg": bounded_message(record),
        }
        if record.exc_info:
            entry["exc"] = bound(self.formatException(record.exc_info), MAX_MESSAGE_CHARS)
        return json.dumps(entry, ensure_ascii=False)


def log_to_stderr(level: str) -> None:
    """Send every logger's records at ``level`` or above to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
