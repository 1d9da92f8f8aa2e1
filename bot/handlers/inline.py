"""Inline mode: ``@BotName words`` in any chat lists matching releases to send there."""

from __future__ import annotations

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)

from bot import metrics, numbers
from bot.context import NewsbotContext
from bot.handlers.browse import MAX_OFFSET
from bot.handlers.common import answers_query, index_ready, reader_language
from bot.i18n import _
from bot.releases import Release, release_key
from bot.render import format_date, release_html
from bot.search import QueryError

#: Telegram accepts at most 50 results per answer; the rest come with next_offset.
PAGE = 50
DESCRIPTION_CHARS = 120


def article(release: Release) -> InlineQueryResultArticle:
    """One inline result that sends the formatted release.

    Its id is the release's short key: Telegram caps result ids at 64 bytes, ids are longer.
    """
    meta = " · ".join(p for p in (format_date(release), release.place) if p)
    summary = release.summary[:DESCRIPTION_CHARS]
    return InlineQueryResultArticle(
        id=release_key(release.id),
        title=release.title,
        description=f"{meta}\n{summary}",
        # HTML without a link preview: the application's Defaults fill these in.
        input_message_content=InputTextMessageContent(release_html(release)),
        url=release.url,
    )


@answers_query
async def inline_query(update: Update, context: NewsbotContext) -> None:
    query = update.inline_query
    if query is None:
        return
    svc = context.services
    offset = numbers.parse_count(query.offset, 0, MAX_OFFSET) if query.offset else 0
    if offset is None:  # not an offset this bot gave out: nothing more to show
        await query.answer([], cache_time=0)
        return
    if not await index_ready(svc.ingestor.index_ready):
        await query.answer([], cache_time=0, button=InlineQueryResultsButton(
            text=_("Search is loading, try again in a moment"), start_parameter="help"))
        return
    index = svc.index
    text = query.query.strip()
    try:
        if text:
            with metrics.search_timer():
                result = index.search(text, limit=PAGE, offset=offset,
                                      language=reader_language(update))
            releases = [h.release for h in result.hits]
            more = offset + len(releases) < result.total
        else:
            releases = index.latest(PAGE, offset)
            more = len(releases) == PAGE and offset + PAGE < len(index)
    except QueryError as exc:
        await query.answer([], cache_time=0, button=InlineQueryResultsButton(
            text=str(exc)[:64], start_parameter="help"))
        return
    # None, not "": with Defaults, PTB 22 sends an empty string as "[]" (ExtBot takes it for
    # a sequence of poll options); left out, it means "no more" to Telegram as "" does.
    await query.answer([article(r) for r in releases], cache_time=30, is_personal=False,
                       next_offset=str(offset + len(releases)) if more else None)
