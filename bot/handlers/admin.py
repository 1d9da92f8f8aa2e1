"""/stats: figures for the bot's operators (the user ids in ``[bot] admins``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from telegram import Update

from bot.context import NewsbotContext
from bot.handlers.common import reply
from bot.i18n import N_, _, _n, format_number
from bot.render import fit_lines, quote
from bot.store import FAILED, PENDING, SENT, SourceState

NOT_FOR_YOU = N_("/stats is for the bot's operators.")
#: Room left for the source lines; a long error is cut, and extra sources are counted, not shown.
_ERROR_CHARS = 200


async def stats(update: Update, context: NewsbotContext) -> None:
    """Releases, chats, subscriptions by kind of chat, deliveries, and each source's last poll."""
    svc = context.services
    user = update.effective_user
    # In a channel post there is no user at all, so nobody there is an operator.
    if user is None or user.id not in svc.settings.bot.admins:
        await reply(update, _(NOT_FOR_YOU))
        return
    figures = await svc.store.stats()
    sources = await svc.store.source_states()
    await reply(update, stats_html(figures, sources, time.time()))


def stats_html(figures: Mapping[str, Any], sources: Sequence[SourceState], now: float) -> str:
    """The /stats message: every value escaped, within Telegram's length limit."""
    outbox: Mapping[str, int] = figures.get("outbox", {})
    lines = [
        _("📊 <b>newsbot stats</b>"),
        _("Releases: {count}").format(count=format_number(int(figures.get("releases", 0)))),
        _("Chats: {counts}").format(counts=_by_kind(figures.get("chats", {}))),
        _("Subscriptions: {counts}").format(counts=_by_kind(figures.get("subscriptions", {}))),
        _("Deliveries: {pending} pending · {sent} sent · {failed} failed").format(
            pending=format_number(outbox.get(PENDING, 0)),
            sent=format_number(outbox.get(SENT, 0)),
            failed=format_number(outbox.get(FAILED, 0))),
        "",
        (_("<b>Sources</b> ({count})").format(count=format_number(len(sources))) if sources
         else _("<b>Sources</b>: none polled yet")),
    ]
    return fit_lines(lines, [_source_line(source, now) for source in sources])


def _by_kind(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    parts = ", ".join(f"{escape(_kind(str(kind)))} {format_number(n)}"
                      for kind, n in sorted(counts.items()))
    return f"{format_number(total)} ({parts})"


#: Telegram's chat types, as /stats names them.
_KINDS = {"private": N_("private"), "group": N_("group"), "supergroup": N_("supergroup"),
          "channel": N_("channel")}


def _kind(kind: str) -> str:
    return _(_KINDS[kind]) if kind in _KINDS else kind


def _source_line(source: SourceState, now: float) -> str:
    name = quote(source.name, 120)
    if source.last_poll_at is None:
        return _("• {source}: never polled").format(source=name)
    when = datetime.fromtimestamp(source.last_poll_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    line = _("• {source}: last poll {when} ({ago})").format(
        source=name, when=when, ago=_ago(now - source.last_poll_at))
    error = quote(source.last_error, _ERROR_CHARS) if source.last_error else ""
    if error and source.failures > 1:
        line += _(" — ⚠️ error, {count} in a row: {error}").format(
            count=format_number(source.failures), error=error)
    elif error:
        line += _(" — ⚠️ error: {error}").format(error=error)
    else:
        line += _(" — ok")
    return line


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return _("{n} s ago").format(n=seconds)
    if seconds < 7200:
        return _("{n} min ago").format(n=seconds // 60)
    if seconds < 172800:
        return _("{n} h ago").format(n=seconds // 3600)
    days = seconds // 86400
    return _n("{n} day ago", "{n} days ago", days).format(n=format_number(days))
