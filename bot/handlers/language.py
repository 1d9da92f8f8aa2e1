"""The language of each update (handler group -1) and /language with its buttons.

``/language`` alone shows the chat's language and a button per language; ``/language fr``
(``es``, ``en``, or a language's name; ``auto`` to follow each reader's Telegram setting again)
sets it. Changing it is a change of a shared chat's settings, so the rights are those of
subscriptions (:mod:`bot.permissions`): anyone in a private chat, admins in groups, and a
channel from a private chat with ``/language @channel fr``.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import NewsbotContext
from bot.handlers.common import answer_button, reply, telegram_language
from bot.handlers.rights import Rights, on_target, presser_may_manage
from bot.handlers.topics import target_of
from bot.i18n import (
    LANGUAGE_NAMES,
    N_,
    _,
    current_language,
    language_of,
    parse_language,
    set_language,
)
from bot.permissions import Target
from bot.store import StoreUnavailable
from bot.text.languages import LANGUAGES

log = logging.getLogger(__name__)

#: Button data: this prefix and a language code, or ``auto``.
LANGUAGE_PREFIX = "lang:"
AUTO = "auto"

USAGE = N_("Usage: <code>/language fr</code>, <code>/language es</code> or "
           "<code>/language en</code>; <code>/language auto</code> follows each reader's "
           "Telegram language again.")
NOT_ADMIN = N_("Only this chat's administrators can change its language.")
STALE = N_("This button no longer works. Send /language again.")


async def set_update_language(update: object, context: NewsbotContext) -> None:
    """Make the chat's language current for every handler of this update (group -1)."""
    if not isinstance(update, Update):
        return
    chat, user = update.effective_chat, update.effective_user
    code = user.language_code if user else None
    try:
        language = await context.services.languages.for_update(
            chat.id if chat else None, chat is not None and chat.type == ChatType.PRIVATE, code)
    except StoreUnavailable as exc:  # the store failing must not leave the update unanswered
        log.warning("could not read the language of chat %s: %s", chat.id if chat else None, exc)
        language = language_of(code)
    except Exception:
        log.exception("could not read the language of chat %s", chat.id if chat else None)
        language = language_of(code)
    set_language(language)


def _status(chosen: bool, target: Target) -> str:
    """What /language says: the language in use, where it comes from, how to change it."""
    name = LANGUAGE_NAMES[current_language()]
    if chosen:
        lines = [_("🌐 I speak {language} in {where}.").format(language=name,
                                                            where=_where(target))]
    elif target.type == ChatType.PRIVATE:
        lines = [_("🌐 I speak {language} here, as in your Telegram settings.")
                 .format(language=name)]
    else:
        lines = [_("🌐 I speak {language} here: no language was chosen for this chat, so I "
                   "answer each person in the language of their Telegram settings.")
                 .format(language=name)]
    if target.type not in (ChatType.PRIVATE, ChatType.CHANNEL):
        lines.append(_("Only administrators can change it."))
    lines.append(_(USAGE))
    return "\n".join(lines)


def _where(target: Target) -> str:
    return target.name_html if target.remote else _("this chat")


def _keyboard(chosen: str | None) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(("✅ " if code == chosen else "") + LANGUAGE_NAMES[code],
                                callback_data=f"{LANGUAGE_PREFIX}{code}")
           for code in LANGUAGES]
    auto = InlineKeyboardButton(("✅ " if chosen is None else "")
                                + _("Each reader's Telegram language"),
                                callback_data=f"{LANGUAGE_PREFIX}{AUTO}")
    return InlineKeyboardMarkup([row, [auto]])


def _done(language: str | None, target: Target) -> str:
    """The confirmation, in the language just chosen."""
    if language is None:
        return _("Done: I now answer each person in the language of their Telegram settings.")
    return _("Done: I now speak {language} in {where}.").format(
        language=LANGUAGE_NAMES[language], where=_where(target))


@on_target(Rights.SHOW_OR_SET)
async def language_command(update: Update, context: NewsbotContext, target: Target,
                           rest: str) -> None:
    """/language [@channel] [fr|es|en|auto]: show or set the chat's language."""
    svc = context.services
    if not rest:
        chosen = await svc.languages.chosen(target.chat_id)
        if target.remote:
            await reply(update, _("{where}: {language}.").format(
                where=target.name_html, language=LANGUAGE_NAMES.get(chosen or "", _("not chosen"))
            ) + "\n" + _(USAGE))
            return
        await reply(update, _status(chosen is not None, target),
                    reply_markup=_keyboard(chosen))
        return
    language = None if rest.casefold() == AUTO else parse_language(rest)
    if language is None and rest.casefold() != AUTO:
        await reply(update, _(USAGE))
        return
    await svc.languages.choose(target.chat_id, target.type, language, target.title,
                               target.username)
    if not target.remote:
        set_language(language or telegram_language(update))
    await reply(update, _done(language, target))


async def language_button(update: Update, context: NewsbotContext) -> None:
    """A tap on a language button: set the chat's language if the presser may."""
    callback = update.callback_query
    if callback is None or callback.data is None:
        return
    code = callback.data.removeprefix(LANGUAGE_PREFIX)
    message = callback.message
    if (code != AUTO and code not in LANGUAGES) or not isinstance(message, Message):
        await answer_button(callback, _(STALE))
        return
    svc = context.services
    target = target_of(message)
    if not await presser_may_manage(context, callback, target.chat_id,
                                    _(NOT_ADMIN)):
        return
    language = None if code == AUTO else code
    await svc.languages.choose(target.chat_id, target.type, language, target.title,
                               target.username)
    set_language(language or telegram_language(update))
    await answer_button(callback, _done(language, target))
    with suppress(TelegramError):  # cosmetic: the answer already said it is done
        await message.edit_text(_status(language is not None, target),
                                reply_markup=_keyboard(language))
