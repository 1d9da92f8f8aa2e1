"""/subscribe, /unsubscribe and /subscriptions (with remove buttons).

Which chat a command acts on and whether the sender may change it is decided in
:mod:`bot.handlers.rights` (the rules: :mod:`bot.permissions`); what a topic is and what it
matches, in :mod:`bot.topics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot import digest, numbers
from bot.context import NewsbotContext, Services
from bot.handlers.common import answer_button, answers_query, index_ready, reply
from bot.handlers.rights import Rights, on_target, presser_may_manage
from bot.i18n import N_, _, _n, current_language, format_number
from bot.permissions import Target
from bot.render import cut, fit_lines, quote
from bot.store import StoreUnavailable, Subscription
from bot.topics import ALL, Topic, TopicError, rules

#: Callback data of a remove button: this prefix and the subscription id (survives restarts).
REMOVE_PREFIX = "unsub:"
#: The largest id SQL's BIGINT holds.
MAX_ID = 2**63 - 1

SUBSCRIBE_USAGE = N_("Usage: <code>/subscribe topic</code>, e.g. "
                     "<code>/subscribe child labour</code>; exclude words with a minus: "
                     "<code>/subscribe trafficking -football</code>; "
                     "<code>/subscribe</code> alone for every new release; add "
                     "<code>daily</code> or <code>weekly</code> for one digest message instead "
                     "of an alert per release. Ideas: /topics")
UNSUBSCRIBE_USAGE = N_("Usage: <code>/unsubscribe topic</code> or "
                       "<code>/unsubscribe all</code>. /subscriptions lists this chat's topics "
                       "with buttons to remove them.")
#: How much of a topic a list line or a button shows, so 50 of them fit one message.
_LINE_CHARS, _BUTTON_CHARS = 60, 40


def topic_label(key: str, limit: int = 100) -> str:
    """A stored topic key as shown to users (escaped); ``""`` is every new release."""
    return quote(key, limit) if key else _("every new release")


@on_target(Rights.SUBSCRIBE)
async def subscribe(update: Update, context: NewsbotContext, target: Target,
                    text: str) -> None:
    """Subscribe this chat (or a channel named from a private chat) to a topic."""
    svc = context.services
    text, cadence = digest.split_cadence(text)
    try:
        topic = _parse(svc, text)
    except TopicError as exc:
        await reply(update, f"{escape(str(exc))}\n{_(SUBSCRIBE_USAGE)}")
        return
    await reply(update, await _add(svc, target, topic, cadence))


@on_target(Rights.CHANGE)
async def unsubscribe(update: Update, context: NewsbotContext, target: Target,
                      text: str) -> None:
    """Remove one topic, or ``all``, from this chat (or a channel named from a private chat)."""
    svc = context.services
    everything = text.casefold() == "all"
    try:
        topic = None if everything or not text else svc.topics.parse(text)
    except TopicError as exc:
        await reply(update, f"{escape(str(exc))}\n{_(UNSUBSCRIBE_USAGE)}")
        return
    if topic is None and not everything:
        await reply(update, _(UNSUBSCRIBE_USAGE))
        return
    await reply(update, await _remove(svc, target, topic))


@on_target(Rights.LOOK)
async def list_subscriptions(update: Update, context: NewsbotContext, target: Target,
                             rest: str) -> None:
    """This chat's subscriptions (anyone may look), each with a button that removes it."""
    if rest:
        await reply(update, _("Usage: <code>/subscriptions</code>, or in a private chat with "
                              "me <code>/subscriptions @channel</code>."))
        return
    subs = await context.services.store.subscriptions(target.chat_id)
    text, markup = subscription_list(subs, target.name_html)
    await reply(update, text, reply_markup=markup)


@answers_query
async def remove_button(update: Update, context: NewsbotContext) -> None:
    """A list's remove button: end that subscription if the presser may, then redraw the list."""
    callback = update.callback_query
    if callback is None or callback.data is None:
        return
    svc = context.services
    # Button data can be forged: an id that is no stored number is a removed subscription.
    sub_id = numbers.parse_count(callback.data.removeprefix(REMOVE_PREFIX), 1, MAX_ID)
    sub = await svc.store.get_subscription(sub_id) if sub_id is not None else None
    if sub is None:
        await answer_button(callback, _("That subscription was already removed."))
        await _drop_button(callback.message, callback.data)
        return
    refusal = _("Only the chat's administrators can remove its subscriptions.")
    if not await presser_may_manage(context, callback, sub.chat_id, refusal):
        return
    await svc.store.remove_subscription_by_id(sub.chat_id, sub.id)
    await answer_button(callback, _("Removed: {topic}").format(
        topic=topic_label(sub.topic, _BUTTON_CHARS)))
    await _redraw(callback.message, svc, sub.chat_id)


# -- the work behind the commands ------------------------------------------------------------

def _parse(svc: Services, text: str) -> Topic:
    # "all" mirrors /unsubscribe all: everything, not the word "all".
    return svc.topics.parse(text) if text and text.casefold() != "all" else ALL


async def subscribe_chat(svc: Services, target: Target, topic: Topic,
                         cadence: str | None = None) -> rules.AddOutcome:
    """The one way a chat is subscribed, by command or by button (whose rights the caller
    checked): remember the chat, then add the topic under the rules of :mod:`bot.subscriptions`."""
    # The language the chat was subscribed in frames its alerts until one is chosen.
    await svc.store.save_chat(target.chat_id, target.type, target.title, target.username,
                              auto_language=current_language())
    svc.languages.forget(target.chat_id)
    outcome = await rules.add(svc.store, target.chat_id, target.thread_id, topic,
                              svc.settings.bot.max_subscriptions_per_chat, cadence)
    if outcome.status is rules.AddStatus.ADDED:
        svc.ingestor.note_topic(topic.key)
    return outcome


async def _add(svc: Services, target: Target, topic: Topic, cadence: str | None = None) -> str:
    """Subscribe and word the outcome."""
    label = f"“{topic_label(topic.key)}”" if topic.key else _("every new release")
    where = where_text(target)
    limit = svc.settings.bot.max_subscriptions_per_chat
    outcome = await subscribe_chat(svc, target, topic, cadence)
    if outcome.status is rules.AddStatus.CHANGED:
        return await _cadence_changed(svc, target, label, outcome.previous or "", cadence or "")
    if outcome.status is rules.AddStatus.DUPLICATE:
        how = digest.cadence_label(outcome.previous or digest.INSTANT)
        return cap(_("{where} is already subscribed to {topic} ({how}). See /subscriptions.")
                   .format(where=where, topic=label, how=how))
    if outcome.status is rules.AddStatus.AT_LIMIT:
        return cap(_("{where} already has {count} subscriptions, the most allowed is {limit}. "
                     "Remove one first: /subscriptions").format(
            where=where, count=format_number(outcome.existing), limit=format_number(limit)))
    when = await _digest_note(svc, target, cadence)
    if not topic.key:
        return _("✅ Subscribed {where} to every new release{when}.").format(
            where=where, when=when)
    if not await index_ready(svc.ingestor.index_ready):
        return _("✅ Subscribed {where} to {topic}{when}. (The search index is still loading "
                 "after a restart, so I cannot count its matches yet.)").format(
            where=where, topic=label, when=when)
    found = await rules.count_matches(svc.topics, [topic], svc.index)
    [matched] = found.counts
    scope = scope_text(found)
    if matched == 0:
        undo = f"<code>/unsubscribe {_remote_prefix(target)}{escape(topic.key)}</code>"
        return _("⚠️ Subscribed {where} to {topic}, but it matches none of {scope} — check "
                 "the spelling, or see /topics. Undo: {undo}").format(
            where=where, topic=label, scope=scope, undo=undo)
    if when:
        text = _("✅ Subscribed {where} to {topic}{when}. It matches {count} of {scope}.")
    elif target.remote:
        text = _("✅ Subscribed {where} to {topic}. It matches {count} of {scope}; "
                 "new ones will be sent there.")
    else:
        text = _("✅ Subscribed {where} to {topic}. It matches {count} of {scope}; "
                 "new ones will be sent here.")
    return text.format(where=where, topic=label, when=when, count=format_number(matched),
                       scope=scope)


async def _digest_note(svc: Services, target: Target, cadence: str | None) -> str:
    """", as a daily digest (08:00 UTC; change it with /digest)" for a digest cadence."""
    if cadence not in digest.DIGESTS:
        return ""
    schedule = await svc.store.digest_schedule(target.chat_id)
    text = (_(", as a daily digest at {time} ({zone})") if cadence == digest.DAILY
            else _(", as a weekly digest on Mondays at {time} ({zone})"))
    return (text.format(time=schedule.time_text, zone=escape(schedule.zone))
            + _("; change the time with /digest"))


async def _cadence_changed(svc: Services, target: Target, label: str, previous: str,
                           cadence: str) -> str:
    """The reply when /subscribe changed an existing subscription's cadence."""
    if cadence == digest.INSTANT:
        return _("🔁 {where} now gets {label} as instant alerts again, no longer in the {old}; "
                 "any releases waiting for the digest go out now.").format(
            where=cap(where_text(target)), label=label, old=digest.cadence_label(previous))
    note = await _digest_note(svc, target, cadence)
    return _("🔁 {where} now gets {label}{note} (instead of {old}).").format(
        where=cap(where_text(target)), label=label, note=note,
        old=digest.cadence_label(previous))


def scope_text(found: rules.MatchCounts) -> str:
    """Which releases a count covers: every one stored so far."""
    return _n("the {count} release so far", "the {count} releases so far",
              found.total).format(count=format_number(found.total))


async def _remove(svc: Services, target: Target, topic: Topic | None) -> str:
    """Remove one topic (``None``: every subscription of the chat); the reply says what happened."""
    if topic is None:
        # "all" is the whole chat, not one forum thread: it is the way out of everything.
        where = target.name_html
        n = await svc.store.remove_all_subscriptions(target.chat_id)
        if not n:
            return cap(_("{where} has no subscriptions.").format(where=where))
        return _n("Removed all {count} subscription of {where}.",
                  "Removed all {count} subscriptions of {where}.", n).format(
            count=format_number(n), where=where)
    where = where_text(target)
    label = f"“{topic_label(topic.key)}”" if topic.key else _("every new release")
    if await svc.store.remove_subscription(target.chat_id, target.thread_id, topic.key):
        return _("Unsubscribed {where} from {topic}.").format(where=where, topic=label)
    return cap(_("{where} is not subscribed to {topic}. See /subscriptions.").format(
        where=where, topic=label))


def subscription_list(subs: Sequence[Subscription],
                      name_html: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and remove buttons of a chat's subscription list."""
    if not subs:
        return (_("No subscriptions for {where} yet. Try <code>/subscribe trafficking</code>"
                  " or see /topics.").format(where=name_html), None)
    lines = [_("🔔 <b>Subscriptions of {where}</b> ({count})").format(
        where=name_html, count=format_number(len(subs)))]
    buttons = []
    for n, sub in enumerate(subs, 1):
        thread = (" <i>" + _("(topic thread {id})").format(id=sub.thread_id) + "</i>"
                  if sub.thread_id else "")
        how = digest.cadence_label(sub.cadence)
        lines.append(f"{n}. {topic_label(sub.topic, _LINE_CHARS)} · {how}{thread}")
        label = sub.topic if sub.topic else _("every new release")
        buttons.append([InlineKeyboardButton(f"✖ {n}. {cut(label, _BUTTON_CHARS, at_word=False)}",
                                             callback_data=f"{REMOVE_PREFIX}{sub.id}")])
    lines.append(_("Press a button to remove that subscription. Digests: "
                   "<code>/subscribe topic daily</code> (or <code>weekly</code>, "
                   "<code>instant</code>); their time: /digest"))
    return fit_lines(lines[:1], lines[1:-1], lines[-1:]), InlineKeyboardMarkup(buttons)


async def _drop_button(message: object, data: str) -> None:
    """Take a stale remove button off a list, keeping the others."""
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    rows = [[b for b in row if b.callback_data != data]
            for row in message.reply_markup.inline_keyboard]
    rows = [row for row in rows if row]
    with suppress(TelegramError):  # cosmetic only: the answer already told the user
        await message.edit_reply_markup(InlineKeyboardMarkup(rows) if rows else None)


async def _redraw(message: object, svc: Services, chat_id: int) -> None:
    """Bring the list message up to date after a removal."""
    if not isinstance(message, Message):
        return  # too old for Telegram to hand back: nothing to edit
    try:
        remote = chat_id != message.chat.id
        chat = await svc.store.get_chat(chat_id) if remote else None
        name = (Target(chat_id, chat.type, chat.title, chat.username, remote=True).name_html
                if chat else _("this chat"))
        text, markup = subscription_list(await svc.store.subscriptions(chat_id), name)
        await message.edit_text(text, reply_markup=markup)
    except (TelegramError, StoreUnavailable):
        pass  # the removal happened; a list that cannot be redrawn is only cosmetic


def where_text(target: Target) -> str:
    if target.remote:
        return target.name_html
    return _("this topic thread") if target.thread_id else _("this chat")


def _remote_prefix(target: Target) -> str:
    if not target.remote:
        return ""
    return f"@{escape(target.username)} " if target.username else f"{target.chat_id} "


def cap(text: str) -> str:
    # not str.capitalize(): that would lower-case the rest, e.g. a channel's @UserName
    return text[:1].upper() + text[1:]


