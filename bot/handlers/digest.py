"""/digest: when this chat's digests arrive (``/digest 18:30 Europe/Paris``), or show it.

Anyone may look; in groups and channels only administrators change it, through the same
rights path as subscriptions (:func:`bot.permissions.resolve_target`). What a digest is and
how it is planned lives in :mod:`bot.digest`.
"""

from __future__ import annotations

from telegram import Update

from bot import digest
from bot.handlers.common import Context, command_argument, reply
from bot.handlers.subscriptions import cap
from bot.i18n import _, _n
from bot.permissions import Refusal, is_echo, resolve_target, split_channel_ref
from bot.services import services


def usage() -> str:
    return _("Usage: <code>/digest HH:MM</code> or <code>/digest HH:MM Area/City</code>, e.g. "
             "<code>/digest 18:30 Europe/Paris</code> (24-hour time; the time zone is kept "
             "when you leave it out, UTC at first). <code>/digest</code> alone shows the "
             "current setting. Digests are for subscriptions made with "
             "<code>/subscribe topic daily</code> or <code>weekly</code>.")


async def digest_command(update: Update, context: Context) -> None:
    """Show or set the chat's digest time and time zone."""
    message = update.effective_message
    if message is None or is_echo(message):
        return
    svc = services(context)
    argument = command_argument(message)
    _ref, rest = split_channel_ref(argument)
    try:
        target, text = await resolve_target(context.bot, message, argument,
                                            change=bool(rest))
    except Refusal as exc:
        await reply(update, str(exc))
        return
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
