"""Inline keyboards: the "More ›" button of lists, and the topic buttons of /topics and /start.

Button data is ``tt:<menu>:<action>[:<tag>]``: ``menu`` is a page number of /topics or
``w`` for the few topics /start offers; ``action`` is ``s`` (a topic was tapped), ``u``
(unsubscribing was confirmed), ``k`` (keep it after all) or ``p`` (show that page); ``tag``
names the topic (see :func:`bot.subscriptions.topic_tag`). Nothing is kept in memory, so a
button works the same after a restart, and the data stays far below Telegram's 64 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.i18n import _
from bot.render.fit import cut


def more_button(callback_data: str, label: str | None = None) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label or _("More ›"),
                                                       callback_data=callback_data)]])

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
    return cut(name, _TOPIC_NAME_CHARS, at_word=False)


def _topic_label(button: TopicButton) -> str:
    mark = "✅ " if button.subscribed else ""
    return f"{mark}{topic_name(button.name)} ({i18n.format_number(button.count)})"


def _topic_pages(count: int) -> int:
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
        pages = _topic_pages(len(buttons))
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
        label = _topic_label(button)
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
