"""Releases and lists of them as Telegram HTML messages: always escaped, never over the limit.

Text from releases and from users is escaped with :func:`html.escape` at the one place it
enters markup; lengths are checked on the final markup (a stricter bound than Telegram's,
which counts the text after entity parsing, in UTF-16 code units).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.i18n import _
from bot.releases import Release

MAX_MESSAGE = 4096
#: A summary in a list of results is cut here so five of them fit one message comfortably.
LIST_SUMMARY_CHARS = 500
#: Ever shorter summaries (0: none) tried before a long list drops releases to fit.
_LIST_SUMMARY_STEPS = (LIST_SUMMARY_CHARS, 250, 120, 60, 0)
ELLIPSIS = "…"


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def format_date(release: Release) -> str:
    """The release's date as readers of the current language write it."""
    return i18n.format_date(release.date)


#: Titles and places are short in real data; these caps only stop absurd ones crowding out the rest.
TITLE_CHARS, PLACE_CHARS = 300, 100


def release_html(release: Release, *, summary_chars: int | None = None,
                 matched: Sequence[str] = ()) -> str:
    """One release: bold title (a link with a url), "date · place · kind", the summary.

    ``matched`` names the subscription topics that brought it (for alerts). The summary is
    cut (at a word, with an ellipsis) to ``summary_chars`` and to whatever keeps the whole
    message within Telegram's limit.
    """
    title = f"<b>{escape(_cut(release.title, TITLE_CHARS))}</b>"
    if release.url:
        title = f'<a href="{escape(release.url, quote=True)}">{title}</a>'
    place = release.place and _cut(release.place, PLACE_CHARS)
    meta = " · ".join(escape(p) for p in (format_date(release), place, release.kind) if p)
    head = f"{title}\n{meta}"
    tail = ""
    if matched:
        labels = ", ".join(escape(_cut(t, 100)) if t else _("all new releases")
                           for t in matched[:20])
        tail = "\n<i>" + _("Alert: {topics}").format(topics=labels) + "</i>"
    if not release.summary or summary_chars == 0:
        return head + tail
    room = MAX_MESSAGE - telegram_length(head) - telegram_length(tail) - 1
    limit = min(summary_chars or len(release.summary), len(release.summary))
    summary = escape(_cut(release.summary, limit))
    while telegram_length(summary) > room and limit > 1:
        # Escaping lengthens text (& -> &amp;) unevenly: shrink in proportion, measure again.
        limit = max(1, min(limit - 1, limit * room // telegram_length(summary)))
        summary = escape(_cut(release.summary, limit))
    return f"{head}\n{summary}{tail}"


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + ELLIPSIS


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
            if telegram_length(text) <= MAX_MESSAGE:
                return text, count
    return header(0), 0


def more_button(callback_data: str, label: str | None = None) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label or _("More ›"),
                                                       callback_data=callback_data)]])


def quote(text: str, limit: int = 100) -> str:
    """User text shown back inside a reply: cut short and escaped."""
    return escape(_cut(" ".join(text.split()), limit))


# -- topic buttons (/topics and /start) ------------------------------------------------------
#
# Button data is ``tt:<menu>:<action>[:<tag>]``: ``menu`` is a page number of /topics or
# ``w`` for the few topics /start offers; ``action`` is ``s`` (a topic was tapped), ``u``
# (unsubscribing was confirmed), ``k`` (keep it after all) or ``p`` (show that page); ``tag``
# names the topic (see :func:`bot.subscriptions.topic_tag`). Nothing is kept in memory, so a
# button works the same after a restart, and the data stays far below Telegram's 64 bytes.

TOPIC_PREFIX = "tt:"
#: The ``menu`` of the /start keyboard.
WELCOME_MENU = "w"
TOPICS_PER_PAGE = 8
#: Topics the /start keyboard offers.
WELCOME_TOPICS = 4
#: Labels longer than this get a row of their own, so they are not cut on phones.
_WIDE_LABEL = 20
_TOPIC_NAME_CHARS = 40
_TAP = re.compile(r"^tt:(?P<menu>w|\d{1,3}):(?P<action>[suk])(?::(?P<tag>[0-9a-f]{10}))?$"
                  r"|^tt:(?P<page>\d{1,3}):p$")


@dataclass(frozen=True)
class TopicButton:
    """What a keyboard shows of one suggested topic."""

    name: str
    count: int
    tag: str
    subscribed: bool


@dataclass(frozen=True)
class TopicTap:
    """A pressed topic button, read back from its data."""

    menu: str
    action: str
    tag: str = ""

    @property
    def page(self) -> int:
        return int(self.menu) if self.menu.isdigit() else 0


def parse_topic_tap(data: str) -> TopicTap | None:
    """The tap a button's data describes; None for data this bot never made."""
    found = _TAP.match(data)
    if found is None:
        return None
    if found["page"] is not None:
        return TopicTap(found["page"], "p")
    if (found["action"] == "k") != (found["tag"] is None):
        return None  # "keep" names no topic; the other actions must
    return TopicTap(found["menu"], found["action"], found["tag"] or "")


def topic_name(name: str) -> str:
    """A taxonomy name as a button shows it: "child labour" -> "Child labour"."""
    name = " ".join(name.split())
    name = name[:1].upper() + name[1:]
    return name if len(name) <= _TOPIC_NAME_CHARS else name[:_TOPIC_NAME_CHARS - 1] + ELLIPSIS


def topic_label(button: TopicButton) -> str:
    mark = "✅ " if button.subscribed else ""
    return f"{mark}{topic_name(button.name)} ({i18n.format_number(button.count)})"


def topic_pages(count: int) -> int:
    return max(1, -(-count // TOPICS_PER_PAGE))


def topic_keyboard(buttons: Sequence[TopicButton], menu: str,
                   confirm: str | None = None) -> InlineKeyboardMarkup | None:
    """The keyboard of one page of topics (``menu`` a page number) or of /start (``w``).

    The topic whose tag is ``confirm`` shows "Unsubscribe?" and "Keep" in its place.
    Pages past the end show the last one.
    """
    if menu == WELCOME_MENU:
        shown, nav = list(buttons), [InlineKeyboardButton(_("All topics ›"),
                                                          callback_data=f"{TOPIC_PREFIX}0:p")]
    else:
        pages = topic_pages(len(buttons))
        page = min(int(menu), pages - 1) if menu.isdigit() else 0
        menu = str(page)
        shown = list(buttons[page * TOPICS_PER_PAGE:(page + 1) * TOPICS_PER_PAGE])
        nav = []
        if page > 0:
            nav.append(InlineKeyboardButton(_("‹ Back"),
                                            callback_data=f"{TOPIC_PREFIX}{page - 1}:p"))
        if page + 1 < pages:
            nav.append(InlineKeyboardButton(_("More › ({page}/{pages})").format(
                                                page=page + 2, pages=pages),
                                            callback_data=f"{TOPIC_PREFIX}{page + 1}:p"))
    if not shown:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    pending: list[InlineKeyboardButton] = []  # a half-filled row of two short labels
    for button in shown:
        if button.tag == confirm and button.subscribed:
            rows.append([
                InlineKeyboardButton(_("✖ Unsubscribe: {topic}?").format(
                                         topic=topic_name(button.name)),
                                     callback_data=f"{TOPIC_PREFIX}{menu}:u:{button.tag}"),
                InlineKeyboardButton(_("Keep ✅"), callback_data=f"{TOPIC_PREFIX}{menu}:k"),
            ])
            pending = []
            continue
        label = topic_label(button)
        key = InlineKeyboardButton(label, callback_data=f"{TOPIC_PREFIX}{menu}:s:{button.tag}")
        if len(label) > _WIDE_LABEL:
            rows.append([key])
            pending = []
        elif pending:
            pending.append(key)
            pending = []
        else:
            pending = [key]
            rows.append(pending)
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)
