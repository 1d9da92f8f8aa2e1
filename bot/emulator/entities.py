"""The entities Telegram detects by itself in a user's plain text."""

from __future__ import annotations

import re
from typing import Any

from bot.emulator.html import utf16_len

__all__ = ["find_entities"]

JSON = dict[str, Any]

# Entities Telegram finds by itself in a user's text (only the ones bots care about).
_AUTO_ENTITIES = (
    ("bot_command", re.compile(
        r"(?<![\w/<>\\@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])"
    )),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{4,32}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*")),
)  # fmt: skip


def find_entities(text: str) -> list[JSON]:
    """The entities Telegram detects in a user's plain text (bot commands, URLs, mentions...)."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < other_end and other_start < end for other_start, other_end, _ in found):
                continue
            found.append((start, end, kind))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in found
    ]
