"""Releases and lists of them as Telegram messages: HTML always escaped, never over the limit.

Text from releases and from users is escaped with :func:`html.escape` at the one place it
enters markup. The plain-text form of a release is the fallback for when Telegram cannot
parse our HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from bot import i18n
from bot.i18n import _
from bot.releases import Release
from bot.render.fit import MAX_MESSAGE, cut, fits, shrink_to_fit, telegram_length

#: A summary in a list of results is cut here so five of them fit one message comfortably.
LIST_SUMMARY_CHARS = 500
#: Ever shorter summaries (0: none) tried before a long list drops releases to fit.
_LIST_SUMMARY_STEPS = (LIST_SUMMARY_CHARS, 250, 120, 60, 0)
#: Titles and places are short in real data; these caps only stop absurd ones crowding out the rest.
TITLE_CHARS, PLACE_CHARS = 300, 100


def format_date(release: Release) -> str:
    """The release's date as readers of the current language write it."""
    return i18n.format_date(release.date)


def release_html(release: Release, *, summary_chars: int | None = None,
                 matched: Sequence[str] = ()) -> str:
    """One release: bold title (a link with a url), "date · place · kind", the summary.

    ``matched`` names the subscription topics that brought it (for alerts). The summary is
    cut (at a word, with an ellipsis) to ``summary_chars`` and to whatever keeps the whole
    message within Telegram's limit.
    """
    title = f"<b>{escape(cut(release.title, TITLE_CHARS))}</b>"
    if release.url:
        title = f'<a href="{escape(release.url, quote=True)}">{title}</a>'
    place = release.place and cut(release.place, PLACE_CHARS)
    meta = " · ".join(escape(p) for p in (format_date(release), place, release.kind) if p)
    head = f"{title}\n{meta}"
    tail = ""
    if matched:
        labels = ", ".join(escape(cut(t, 100)) if t else _("all new releases")
                           for t in matched[:20])
        tail = "\n<i>" + _("Alert: {topics}").format(topics=labels) + "</i>"
    if not release.summary or summary_chars == 0:
        return head + tail
    room = MAX_MESSAGE - telegram_length(head) - telegram_length(tail) - 1
    summary = shrink_to_fit(release.summary, room, start=summary_chars, render=escape)
    return f"{head}\n{summary}{tail}"


def release_plain(release: Release, matched: tuple[str, ...] = ()) -> str:
    """A release as plain text (no markup): the fallback when Telegram rejects our HTML."""
    meta = " · ".join(p for p in (format_date(release), release.place, release.kind) if p)
    head = "\n".join([release.title, *([release.url] if release.url else []), meta])
    labels = ", ".join(t or _("all new releases") for t in matched)
    tail = "\n" + _("Alert: {topics}").format(topics=labels) if matched else ""
    if release.summary:
        room = MAX_MESSAGE - telegram_length(head) - telegram_length(tail) - 1
        text = f"{head}\n{shrink_to_fit(release.summary, room)}{tail}"
    else:
        text = head + tail
    if not fits(text):  # an absurd title: cut whatever is left
        text = cut(text, MAX_MESSAGE // 2, at_word=False)
    return text


def release_list_html(releases: Sequence[Release],
                      header: Callable[[int], str]) -> tuple[str, int]:
    """A header line and several releases as one message within the limit.

    Summaries are shortened, then left out, and as a last resort trailing releases are
    dropped. Returns the message and how many releases it holds; ``header(n)`` (HTML)
    is asked for the header of ``n`` releases, so it can state the right count.
    """
    for count in range(len(releases), 0, -1):
        for chars in _LIST_SUMMARY_STEPS:
            blocks = [release_html(r, summary_chars=chars) for r in releases[:count]]
            text = "\n\n".join([header(count), *blocks])
            if fits(text):
                return text, count
    return header(0), 0
