"""/digest: when this chat's digests arrive (``/digest 18:30 Europe/Paris``), or show it.

Anyone may look; in groups and channels only administrators change it, through the same
rights check as subscriptions (:mod:`bot.handlers.rights`). What a digest is and
how it is planned lives in :mod:`bot.digest`.
"""

from __future__ import annotations

from telegram import Update

from bot import digest
from bot.context import NewsbotContext
from bot.handlers.common import reply
from bot.handlers.rights import Rights, on_target
from bot.handlers.subscriptions import cap
from bot.i18n import _, _n
from bot.permissions import Target


def usage() -> str:
    return _("Usage: <code>/digest HH:MM</code> or <code>/digest HH:MM Area/City</code>, e.g. "
             "<code>/digest 18:30 Europe/Paris</code> (24-hour time; the time zone is kept "
             "when you leave it out, UTC at first). <code>/digest</code> alone shows the "
             "current setting. Digests are for subscriptions made with "
             "<code>/subscribe topic daily</code> or <code>weekly</code>.")


@on_target(Rights.SHOW_OR_SET)
async def digest_command(update: Update, context: NewsbotContext, target: Target,
                         text: str) -> None:
    """Show or set the chat's digest time and time zone."""
    svc = context.services
    current = await svc.store.digest_schedule(target.chat_id)
    where = target.name_html
    if not text:
        await reply(update, _("🕗 Digests for {where} go out {when}.\nChange: {usage}").format(
            where=where, when=digest.schedule_text(current), usage=usage()))
        return
    try:
        schedule = digest.parse_schedule(text, current)
    except digest.DigestError as exc:
        await reply(update, f"{exc}\n{usage()}")
        return
    moved = await svc.store.set_digest_schedule(target.chat_id, schedule)
    answer = _("✅ {where} now gets its digests {when}.").format(
        where=cap(where), when=digest.schedule_text(schedule))
    if moved:
        answer += " " + _n("{n} release waiting for a digest moves to the new time.",
                           "{n} releases waiting for a digest move to the new time.",
                           moved).format(n=moved)
    await reply(update, answer)
