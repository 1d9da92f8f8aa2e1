"""The bot joining or leaving chats, and groups becoming supergroups.

Leaving (removed, kicked, or blocked in a private chat) ends the chat's subscriptions at
once, so nothing more is queued for a chat that cannot receive it; joining records the chat.
"""

from __future__ import annotations

import logging

from telegram import ChatMemberRestricted, Update
from telegram.constants import ChatMemberStatus

from bot.context import NewsbotContext

log = logging.getLogger(__name__)

_GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


async def my_chat_member(update: Update, context: NewsbotContext) -> None:
    """The bot's own membership changed: end the chat's subscriptions, or remember the chat."""
    change = update.my_chat_member
    if change is None:
        return
    chat, member = change.chat, change.new_chat_member
    store = context.services.store
    # A restricted bot that is no longer a member is as gone as one that left.
    gone = member.status in _GONE or (
        isinstance(member, ChatMemberRestricted) and not member.is_member)
    if gone:
        ended = await store.end_chat(chat.id, f"bot {member.status}")
        log.info("removed from chat %s (%s): %d subscriptions ended", chat.id, chat.type, ended)
    else:
        title = chat.title or chat.full_name
        await store.save_chat(chat.id, chat.type, title, chat.username)
        log.info("added to chat %s (%s) as %s", chat.id, chat.type, member.status)


async def migrated(update: Update, context: NewsbotContext) -> None:
    """A group became a supergroup: its subscriptions move to the new chat id.

    Telegram sends two service messages (one in the old group with ``migrate_to_chat_id``,
    one in the new supergroup with ``migrate_from_chat_id``); either suffices, and the store's
    move is idempotent, so both are handled, one at a time.
    """
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    # Updates run concurrently; two moves of the same subscriptions at once could collide.
    async with context.bot_data.migrate_lock:
        await context.services.store.migrate_chat(old, new)
    log.info("chat %s migrated to %s", old, new)
