"""Inline mode: ``@BotName words`` in any chat lists matching releases to send there."""

from __future__ import annotations

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode

from bot.handlers.common import Context, index_ready
from bot.releases import Release
from bot.render import format_date, release_html
from bot.search import QueryError
from bot.services import services

#: Telegram accepts at most 50 results per answer; the rest come with next_offset.
PAGE = 50
DESCRIPTION_CHARS = 120


def article(release: Release) -> InlineQueryResultArticle:
    """One inline result that sends the formatted release."""
    meta = " · ".join(p for p in (format_date(release), release.place) if p)
    summary = release.summary[:DESCRIPTION_CHARS]
    return InlineQueryResultArticle(
        id=release.id,
        title=release.title,
        description=f"{meta}\n{summary}",
        input_message_content=InputTextMessageContent(
            release_html(release), parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True)),
        url=release.url,
    )


async def inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    if query is None:
        return
    svc = services(context)
    if not await index_ready(svc.ingestor.index_ready):
        await query.answer([], cache_time=0, button=InlineQueryResultsButton(
            text="Search is loading, try again in a moment", start_parameter="help"))
        return
    index = svc.index
    offset = int(query.offset) if query.offset.isdigit() else 0
    text = query.query.strip()
    try:
        if text:
            result = index.search(text, limit=PAGE, offset=offset)
            releases = [h.release for h in result.hits]
            more = offset + len(releases) < result.total
        else:
            releases = index.latest(PAGE, offset)
            more = len(releases) == PAGE and offset + PAGE < len(index)
    except QueryError as exc:
        await query.answer([], cache_time=0, button=InlineQueryResultsButton(
            text=str(exc)[:64], start_parameter="help"))
        return
    await query.answer([article(r) for r in releases], cache_time=30, is_personal=False,
                       next_offset=str(offset + len(releases)) if more else "")
