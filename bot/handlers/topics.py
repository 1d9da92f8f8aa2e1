"""/topics and the topic buttons (also under /start): one tap subscribes a chat.

A tap acts on the chat (and forum thread) of the message the button is under, with the rights
rule of every subscription change (:func:`bot.permissions.may_manage`: a private chat is its
user's; in groups and channels only administrators) and through the same
:func:`~bot.handlers.subscriptions.subscribe_chat` as ``/subscribe``. Tapping a topic the chat
already has asks "Unsubscribe?" (with "Keep") instead of dropping it at once: in a group one
stray tap should not end everybody's alerts.
"""

from __future__ import annotations

from contextlib import suppress

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import NewsbotContext, Services
from bot.handlers.common import (
    INDEX_LOADING,
    answer_button,
    answers_query,
    index_ready,
    reply,
)
from bot.handlers.rights import presser_may_manage
from bot.handlers.subscriptions import cap, scope_text, subscribe_chat, where_text
from bot.i18n import N_, _, current_language, format_number
from bot.permissions import Target, thread_of
from bot.render import (
    TOPIC_PREFIX,
    WELCOME_MENU,
    WELCOME_TOPICS,
    TopicButton,
    parse_topic_tap,
    topic_keyboard,
    topic_name,
)
from bot.topics import rules

__all__ = ["TOPIC_PREFIX", "topic_button", "topics", "welcome_keyboard"]

STALE = N_("This button no longer works. Send /topics again.")
TOO_OLD = N_("This message is too old to use. Send /topics again.")
GONE = N_("That topic is no longer suggested. Send /topics again.")
NOT_ADMIN = N_("Only this chat's administrators can change its subscriptions.")


def target_of(message: Message) -> Target:
    """The chat (and forum thread) a command or a button under a message acts on."""
    chat = message.chat
    return Target(chat.id, chat.type, chat.title or chat.full_name, chat.username,
                  thread_of(message))


async def subscribed_keys(svc: Services, target: Target) -> set[str]:
    """The topic keys this chat (in this forum thread) is subscribed to."""
    return {s.topic for s in await svc.store.subscriptions(target.chat_id)
            if s.thread_id == target.thread_id}


def _buttons(found: rules.Suggestions, subscribed: set[str], menu: str) -> list[TopicButton]:
    items = found.items[:WELCOME_TOPICS] if menu == WELCOME_MENU else found.items
    # Names in the chat's language: a French reader taps "Travail des enfants", which is the
    # same topic (and subscription) as "Child labour".
    language = current_language()
    return [TopicButton(s.name_in(language), s.count, s.tag, s.topic.key in subscribed)
            for s in items]


async def keyboard(svc: Services, target: Target, menu: str,
                   confirm: str | None = None) -> InlineKeyboardMarkup | None:
    """The topic keyboard as it is now for this chat: counts, ✅ on its subscriptions."""
    found = await rules.suggestions(svc.topics, svc.index, svc.extra)
    return topic_keyboard(_buttons(found, await subscribed_keys(svc, target), menu), menu,
                          confirm)


async def welcome_keyboard(svc: Services, target: Target) -> InlineKeyboardMarkup | None:
    """The few topics /start offers (the ones with most releases), or None when none are.

    None too while the index is still loading a few seconds after a restart (its counts
    would all be zero): /start waits for it no longer than a search does."""
    if not await index_ready(svc.ingestor.index_ready):
        return None
    return await keyboard(svc, target, WELCOME_MENU)


async def topics(update: Update, context: NewsbotContext) -> None:
    """Suggested topics as buttons, each with how many releases it matches."""
    message = update.effective_message
    if message is None:
        return
    svc = context.services
    if not await index_ready(svc.ingestor.index_ready):  # the counts come from the index
        await reply(update, _(INDEX_LOADING))
        return
    target = target_of(message)
    found = await rules.suggestions(svc.topics, svc.index, svc.extra)
    if not found.items:
        await reply(update, _("No suggested topics are configured. Any words work: "
                              "<code>/subscribe child labour</code>"))
        return
    lines = [_("🏷 <b>Suggested topics</b>: the number is how many of {scope} match.")
             .format(scope=scope_text(found.found)),
             _("Tap one to get its new releases {here}; ✅ marks a topic {where} has "
               "(tap it again to stop).").format(here=_here(target), where=where_text(target))]
    if target.type not in (ChatType.PRIVATE, ChatType.CHANNEL):
        lines.append(_("In groups, only administrators can change subscriptions."))
    lines.append(_("Any words work too: <code>/subscribe trafficking -football</code>"))
    await reply(update, "\n".join(lines), reply_markup=await keyboard(svc, target, "0"))


@answers_query
async def topic_button(update: Update, context: NewsbotContext) -> None:
    """A tap on a topic button: subscribe, ask before unsubscribing, or turn the page."""
    callback = update.callback_query
    if callback is None or callback.data is None:
        return
    tap = parse_topic_tap(callback.data)
    if tap is None:
        await answer_button(callback, _(STALE))
        return
    message = callback.message
    if not isinstance(message, Message):  # too old for Telegram to say where it is
        await answer_button(callback, _(TOO_OLD))
        return
    svc = context.services
    target = target_of(message)
    if tap.action in ("p", "k"):  # only the view changes: anyone may look around
        await answer_button(callback, _("Nothing changed.") if tap.action == "k" else None)
        await _redraw(callback, svc, target, tap.menu)
        return
    found = await rules.suggestions(svc.topics, svc.index, svc.extra)
    suggestion = found.by_tag(tap.tag)
    if suggestion is None:
        await answer_button(callback, _(GONE), show_alert=True)
        await _redraw(callback, svc, target, tap.menu)
        return
    if not await presser_may_manage(context, callback, target.chat_id,
                                    _(NOT_ADMIN)):
        return
    text, alert, confirm = await _act(svc, target, suggestion, tap.action)
    await answer_button(callback, text, show_alert=alert)
    await _redraw(callback, svc, target, tap.menu, confirm)


async def _act(svc: Services, target: Target, suggestion: rules.Suggestion,
               action: str) -> tuple[str, bool, str | None]:
    """Do what the tap asked; returns the answer, whether it is an alert, and the topic
    (tag) whose "Unsubscribe?" question the keyboard shows next."""
    name = f"“{topic_name(suggestion.name_in(current_language()))}”"
    where = where_text(target)
    if action == "u":
        if await svc.store.remove_subscription(target.chat_id, target.thread_id,
                                               suggestion.topic.key):
            return (_("Unsubscribed {where} from {topic}.").format(where=where, topic=name),
                    False, None)
        return (cap(_("{where} was not subscribed to {topic}.").format(where=where, topic=name)),
                False, None)
    if suggestion.topic.key in await subscribed_keys(svc, target):
        return (cap(_("{where} gets alerts for {topic}. Tap “Unsubscribe” to stop them, "
                      "or “Keep”.").format(where=where, topic=name)), False, suggestion.tag)
    outcome = await subscribe_chat(svc, target, suggestion.topic)
    if outcome.status is rules.AddStatus.AT_LIMIT:
        return (cap(_("{where} already has {count} subscriptions, the most allowed. "
                      "Remove one first: /subscriptions").format(
                    where=where, count=format_number(outcome.existing))), True, None)
    if outcome.status is rules.AddStatus.DUPLICATE:  # another tap got there first
        return (cap(_("{where} is already subscribed to {topic}.").format(
            where=where, topic=name)), False, None)
    return (_("✅ Subscribed to {topic}: new releases about it will come {here}.").format(
        topic=name, here=_here(target)), False, None)


async def _redraw(callback: CallbackQuery, svc: Services, target: Target, menu: str,
                  confirm: str | None = None) -> None:
    """Bring the keyboard up to date; cosmetic once the press is answered, so failures
    (the message was deleted, "not modified", a flood wait) are let go."""
    with suppress(TelegramError):
        await callback.edit_message_reply_markup(await keyboard(svc, target, menu, confirm))


def _here(target: Target) -> str:
    if target.type == ChatType.PRIVATE:
        return _("here")
    return _("to this topic thread") if target.thread_id else _("to this chat")
