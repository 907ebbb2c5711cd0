"""The node's log lines: every field bounded in one place, whatever a client sent."""

from __future__ import annotations

import json
import logging

from mvote.node.logs import MAX_FIELD_CHARS, MAX_MESSAGE_CHARS, JsonLines, bound


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("mvote.node.gateway", logging.INFO, __file__, 1, msg, args, None)


def test_a_huge_client_field_is_cut_in_the_line() -> None:
    huge = "x" * (16 * 1024 * 1024)
    line = JsonLines().format(record("submitted tx %s from %s", huge, b"\xff" * 10_000))
    entry = json.loads(line)
    assert len(line) < 2 * MAX_FIELD_CHARS + 500
    assert entry["msg"].startswith("submitted tx " + "x" * MAX_FIELD_CHARS + "...[")
    assert f"[{len(huge) - MAX_FIELD_CHARS} more chars]" in entry["msg"]


def test_numbers_keep_their_format_and_the_message_is_bounded() -> None:
    entry = json.loads(JsonLines().format(record("block %d in %.1f s", 7, 0.25)))
    assert entry["msg"] == "block 7 in 0.2 s"
    many = json.loads(JsonLines().format(record("%s " * 100, *(["y" * 200] * 100))))
    assert len(many["msg"]) <= MAX_MESSAGE_CHARS + 40
    assert bound("short") == "short"
