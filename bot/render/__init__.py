"""Everything the bot writes into a message: releases, lists, keyboards, and the rules that
keep each within Telegram's limits (:mod:`bot.render.fit`, the only place that knows them).

* :mod:`bot.render.fit`: the 4096-character limit, cutting text short, fitting lists;
* :mod:`bot.render.release`: a release (HTML, or plain text as a fallback) and lists of them;
* :mod:`bot.render.keyboards`: the "More ›" button and the topic buttons.
"""

from bot.render.fit import (
    MAX_MESSAGE,
    cut,
    fit_lines,
    fits,
    quote,
    split_messages,
    telegram_length,
)
from bot.render.keyboards import (
    TOPIC_PREFIX,
    TOPICS_PER_PAGE,
    WELCOME_MENU,
    WELCOME_TOPICS,
    TopicButton,
    TopicTap,
    more_button,
    parse_topic_tap,
    topic_keyboard,
    topic_name,
)
from bot.render.release import (
    TITLE_CHARS,
    format_date,
    release_html,
    release_list_html,
    release_plain,
)

__all__ = [
    "MAX_MESSAGE",
    "TITLE_CHARS",
    "TOPICS_PER_PAGE",
    "TOPIC_PREFIX",
    "WELCOME_MENU",
    "WELCOME_TOPICS",
    "TopicButton",
    "TopicTap",
    "cut",
    "fit_lines",
    "fits",
    "format_date",
    "more_button",
    "parse_topic_tap",
    "quote",
    "release_html",
    "release_list_html",
    "release_plain",
    "split_messages",
    "telegram_length",
    "topic_keyboard",
    "topic_name",
]
