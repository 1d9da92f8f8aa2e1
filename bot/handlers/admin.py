"""/stats: figures for the bot's operators (the user ids in ``[bot] admins``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from telegram import Update

from bot.handlers.common import Context, reply
from bot.render import MAX_MESSAGE, quote, telegram_length
from bot.services import services
from bot.store import FAILED, PENDING, SENT, SourceState

NOT_FOR_YOU = "/stats is for the bot's operators."
#: Room left for the source lines; a long error is cut, and extra sources are counted, not shown.
_ERROR_CHARS = 200


async def stats(update: Update, context: Context) -> None:
    """Releases, chats, subscriptions by kind of chat, deliveries, and each source's last poll."""
    svc = services(context)
    user = update.effective_user
    # In a channel post there is no user at all, so nobody there is an operator.
    if user is None or user.id not in svc.settings.bot.admins:
        await reply(update, NOT_FOR_YOU)
        return
    figures = await svc.store.stats()
    sources = await svc.store.source_states()
    await reply(update, stats_html(figures, sources, time.time()))


def stats_html(figures: Mapping[str, Any], sources: Sequence[SourceState], now: float) -> str:
    """The /stats message: every value escaped, within Telegram's length limit."""
    outbox: Mapping[str, int] = figures.get("outbox", {})
    lines = [
        "📊 <b>newsbot stats</b>",
        f"Releases: {int(figures.get('releases', 0))}",
        f"Chats: {_by_kind(figures.get('chats', {}))}",
        f"Subscriptions: {_by_kind(figures.get('subscriptions', {}))}",
        f"Deliveries: {outbox.get(PENDING, 0)} pending · {outbox.get(SENT, 0)} sent · "
        f"{outbox.get(FAILED, 0)} failed",
        "",
        f"<b>Sources</b> ({len(sources)})" if sources else "<b>Sources</b>: none polled yet",
    ]
    shown = 0
    for source in sources:
        line = _source_line(source, now)
        if telegram_length("\n".join([*lines, line])) > MAX_MESSAGE - 40:
            break
        lines.append(line)
        shown += 1
    if shown < len(sources):
        lines.append(f"… and {len(sources) - shown} more")
    return "\n".join(lines)


def _by_kind(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    parts = ", ".join(f"{escape(str(kind))} {n}" for kind, n in sorted(counts.items()))
    return f"{total} ({parts})"


def _source_line(source: SourceState, now: float) -> str:
    name = quote(source.name, 120)
    if source.last_poll_at is None:
        return f"• {name}: never polled"
    when = datetime.fromtimestamp(source.last_poll_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    line = f"• {name}: last poll {when} ({_ago(now - source.last_poll_at)})"
    if source.last_error:
        failures = f", {source.failures} in a row" if source.failures > 1 else ""
        line += f" — ⚠️ error{failures}: {quote(source.last_error, _ERROR_CHARS)}"
    else:
        line += " — ok"
    return line


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"
