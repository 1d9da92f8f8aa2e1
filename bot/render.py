"""Releases and lists of them as Telegram HTML messages: always escaped, never over the limit.

Text from releases and from users is escaped with :func:`html.escape` at the one place it
enters markup; lengths are checked on the final markup (a stricter bound than Telegram's,
which counts the text after entity parsing, in UTF-16 code units).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.releases import Release

MAX_MESSAGE = 4096
#: A summary in a list of results is cut here so five of them fit one message comfortably.
LIST_SUMMARY_CHARS = 500
ELLIPSIS = "…"


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def format_date(release: Release) -> str:
    return f"{release.date.day} {release.date:%B %Y}"


def release_html(release: Release, *, summary_chars: int | None = None,
                 matched: Sequence[str] = ()) -> str:
    """One release: bold title (a link with a url), "date · place · kind", the summary.

    ``matched`` names the subscription topics that brought it (for alerts).
    """
    title = f"<b>{escape(release.title)}</b>"
    if release.url:
        title = f'<a href="{escape(release.url, quote=True)}">{title}</a>'
    meta = " · ".join(escape(p) for p in (format_date(release), release.place, release.kind) if p)
    parts = [title, meta]
    if release.summary:
        parts.append(escape(_cut(release.summary, summary_chars)))
    if matched:
        labels = ", ".join(escape(t) if t else "all new releases" for t in matched)
        parts.append(f"<i>Alert: {labels}</i>")
    return _fit("\n".join(parts), release, summary_chars, matched)


def _fit(text: str, release: Release, summary_chars: int | None,
         matched: Sequence[str]) -> str:
    """Shrink the summary until the message fits Telegram's limit."""
    if telegram_length(text) <= MAX_MESSAGE:
        return text
    budget = min(summary_chars or len(release.summary), len(release.summary))
    while telegram_length(text) > MAX_MESSAGE and budget > 0:
        budget = max(0, budget - max(50, telegram_length(text) - MAX_MESSAGE))
        shorter = Release(release.id, release.kind, _cut(release.title, 300), release.date,
                          release.place and _cut(release.place, 100), release.summary,
                          release.url, release.topics)
        text = release_html(shorter, summary_chars=budget or 1, matched=matched[:20])
    return text


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + ELLIPSIS


def release_list_html(releases: Sequence[Release], header: str) -> str:
    """A header line (already HTML) and several releases, one message, within the limit."""
    blocks = [header, *(release_html(r, summary_chars=LIST_SUMMARY_CHARS) for r in releases)]
    text = "\n\n".join(blocks)
    chars = LIST_SUMMARY_CHARS
    while telegram_length(text) > MAX_MESSAGE and chars > 40:
        chars //= 2
        text = "\n\n".join([header, *(release_html(r, summary_chars=chars) for r in releases)])
    return text


def more_button(callback_data: str, label: str = "More ›") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=callback_data)]])


def quote(text: str, limit: int = 100) -> str:
    """User text shown back inside a reply: cut short and escaped."""
    return escape(_cut(" ".join(text.split()), limit))
