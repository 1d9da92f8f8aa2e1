"""/latest, /search and the "More" button that pages through search results."""

from __future__ import annotations

import contextlib
from html import escape

from telegram import Update
from telegram.error import TelegramError

from bot import metrics, numbers
from bot.context import NewsbotContext
from bot.handlers.common import (
    INDEX_LOADING,
    answer_button,
    answers_query,
    command_argument,
    index_ready,
    reader_language,
    reply,
)
from bot.i18n import N_, _, _n, format_number
from bot.render import more_button, quote, release_list_html
from bot.search import QueryError
from bot.store import StoreUnavailable

LATEST_DEFAULT, LATEST_MAX = 5, 20
#: The furthest page a "More" button (or an inline offset) may ask for; forged data may not
#: make the ranking work for billions of results.
MAX_OFFSET = 1_000_000
MORE_PREFIX = "more:"
LATEST_USAGE = N_("Usage: <code>/latest [n]</code> — n from 1 to 20, "
                  "e.g. <code>/latest 10</code>")
SEARCH_USAGE = N_("Usage: <code>/search words</code>, e.g. <code>/search trafficking</code> "
                  "or <code>/search \"coal mine\" since:2004-09</code>")


def parse_count(text: str) -> int | None:
    """The n of ``/latest n``: default 5, 1..20; None when it is not such a number."""
    return LATEST_DEFAULT if not text else numbers.parse_count(text, 1, LATEST_MAX)


async def latest(update: Update, context: NewsbotContext) -> None:
    count = parse_count(command_argument(update.effective_message))
    if count is None:
        await reply(update, _(LATEST_USAGE))
        return
    svc = context.services
    # While the index loads after a start, the store answers (it sorts the same way).
    releases = (svc.index.latest(count) if svc.ingestor.index_ready.is_set()
                else await svc.store.latest_releases(count))
    if not releases:
        await reply(update, _("There are no releases yet."))
        return
    text, _shown = release_list_html(releases, _latest_header)
    await reply(update, text)


def _latest_header(n: int) -> str:
    return _n("🗞 <b>Latest release</b>", "🗞 <b>Latest {count} releases</b>", n).format(
        count=format_number(n))


async def search(update: Update, context: NewsbotContext) -> None:
    query = command_argument(update.effective_message)
    if not query:
        await reply(update, _(SEARCH_USAGE))
        return
    await send_results_page(update, context, query, 0)


async def plain_text(update: Update, context: NewsbotContext) -> None:
    """Text without a command, in a private chat, is taken as a search."""
    message = update.effective_message
    if message is not None and message.text and message.text.strip():
        await send_results_page(update, context, message.text.strip(), 0)


@answers_query
async def more(update: Update, context: NewsbotContext) -> None:
    """The "More" button: the next page of a saved search, as a new message."""
    callback = update.callback_query
    if callback is None or callback.data is None:
        return
    key, _sep, offset_text = callback.data.removeprefix(MORE_PREFIX).partition(":")
    # Button data can be forged: a bad offset is an expired button, not an error.
    offset = numbers.parse_count(offset_text, 0, MAX_OFFSET)
    query = await context.services.store.saved_query(key) if offset is not None else None
    if query is None or offset is None:
        await answer_button(callback, _("This search has expired — send /search again."),
                            show_alert=True)
        return
    await answer_button(callback)
    # The old message may be too old to edit; the new page goes out all the same.
    with contextlib.suppress(TelegramError):
        await callback.edit_message_reply_markup(None)
    await send_results_page(update, context, query, offset)


async def send_results_page(update: Update, context: NewsbotContext, query: str,
                            offset: int) -> None:
    svc = context.services
    if not await index_ready(svc.ingestor.index_ready):
        await reply(update, _(INDEX_LOADING))
        return
    size = svc.settings.bot.page_size
    try:
        with metrics.search_timer():
            result = svc.index.search(query, limit=size, offset=offset,
                                      language=reader_language(update))
    except QueryError as exc:
        await reply(update, f"{escape(str(exc))}\n{_(SEARCH_USAGE)}")
        return
    if not result.hits:
        await reply(update, _nothing_found(query, result.suggestion, offset))
        return
    note = ""
    if result.partial:
        note = "\n" + _("No release has all of these words; these have some of them.")
        if result.suggestion:
            note += " " + _("Did you mean {command}?").format(
                command=f"<code>/search {quote(result.suggestion)}</code>")

    def header(shown: int) -> str:
        return _("🔎 <b>{first}–{last} of {total}</b> for “{query}”").format(
            first=format_number(offset + 1), last=format_number(offset + shown),
            total=format_number(result.total), query=quote(query)) + note

    text, shown = release_list_html([h.release for h in result.hits], header)
    markup = None
    if offset + shown < result.total:
        try:
            key = await svc.store.save_query(query)
        except StoreUnavailable:  # the results still help; only paging on is lost
            pass
        else:
            markup = more_button(f"{MORE_PREFIX}{key}:{offset + shown}")
    await reply(update, text, reply_markup=markup)


def _nothing_found(query: str, suggestion: str | None, offset: int) -> str:
    if offset:
        return _("No more results for “{query}”.").format(query=quote(query))
    text = _("Nothing found for “{query}”.").format(query=quote(query))
    if suggestion:
        text += "\n" + _("Did you mean {command}?").format(
            command=f"<code>/search {quote(suggestion)}</code>")
    return text
