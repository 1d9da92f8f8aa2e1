"""What simulated users do: each action changes the world and queues the update Telegram
would send the bot (a message, a button press, an inline query, the bot added or blocked...)."""

from __future__ import annotations

import time
from typing import Any

from bot.emulator.entities import find_entities
from bot.emulator.model import (
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    JSON,
    Chat,
    Member,
    api_copy,
    member_dict,
)
from bot.emulator.state import World

__all__ = ["SimulatedUsers"]


class SimulatedUsers(World):
    """The world plus the actions of its simulated users (updates go to the first bot)."""

    def send_message(
        self,
        chat: JSON | int,
        text: str,
        *,
        from_user: JSON | None = None,
        sender_chat: JSON | None = None,
        message_thread_id: int | None = None,
    ) -> JSON:
        """A user posts ``text`` in a chat; queues a "message" (or "channel_post") update.

        Entities are detected like Telegram does (bot commands including ``/cmd@bot``, URLs,
        mentions, hashtags). In a private chat the sender defaults to the chat's user. A group
        message with ``sender_chat`` and no ``from_user`` is from an anonymous admin. The update
        only reaches the bot if it is in the chat; a user writing to a bot they blocked
        unblocks it first (with its my_chat_member update).
        """
        target = self._chat(chat)
        bot = self.primary
        if target.deleted or target.migrated_to is not None:
            raise ValueError(f"chat {target.id} no longer exists")
        message: JSON = {
            "message_id": self.next_message_id(target),
            "date": int(time.time()),
            "chat": target.to_dict(),
        }
        if target.type == "channel":
            kind = "channel_post"
            message["sender_chat"] = target.to_dict()
        else:
            kind = "message"
            if target.type == "private":
                if from_user is not None and from_user["id"] != target.id:
                    raise ValueError("in a private chat the sender must be that chat's user")
                from_user = self.users[target.id]
                if self.member(target, bot.id).status == "kicked":
                    self.set_bot_status(target.id, "member", by_user=from_user)
            if sender_chat is not None:
                message["sender_chat"] = sender_chat
                if from_user is None:
                    from_user = (
                        GROUP_ANONYMOUS_BOT if sender_chat["id"] == target.id else CHANNEL_BOT
                    )
            if from_user is None:
                raise ValueError("from_user is required for a message in a group")
            message["from"] = from_user
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            if target.is_forum:
                message["is_topic_message"] = True
        message["text"] = text
        entities = find_entities(text)
        if entities:
            message["entities"] = entities
        self.store_message(message, by_bot=False)
        if self.member(target, bot.id).active:
            self.enqueue(kind, message)
        return message

    def press_button(self, message: JSON, callback_data: str, *, from_user: JSON) -> JSON:
        """A user presses the inline button carrying ``callback_data`` under a bot message.

        Queues a "callback_query" update and returns the CallbackQuery. Raises ValueError when
        the message is not a bot message or has no such button (now, after any edits).
        """
        chat_id, message_id = int(message["chat"]["id"]), int(message["message_id"])
        stored = self.messages.get((chat_id, message_id))
        if stored is None or not self.is_bot_message(chat_id, message_id):
            raise ValueError(f"message {message_id} in chat {chat_id} is not a bot message")
        keyboard = (stored.get("reply_markup") or {}).get("inline_keyboard") or []
        if not any(b.get("callback_data") == callback_data for row in keyboard for b in row):
            raise ValueError(f"message {message_id} has no button with data {callback_data!r}")
        query: JSON = {
            "id": self._new_query_id(),
            "from": from_user,
            "message": api_copy(stored),
            "chat_instance": str(abs(chat_id) * 7919 % 10**12),
            "data": callback_data,
        }
        self.callback_queries[query["id"]] = query
        self.enqueue("callback_query", query)
        return query

    def inline_query(
        self, from_user: JSON, query: str, *, offset: str = "", chat_type: str = "private"
    ) -> JSON:
        """A user types ``@bot query``; queues an "inline_query" update and returns it."""
        inline: JSON = {
            "id": self._new_query_id(),
            "from": from_user,
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        self.inline_queries[inline["id"]] = inline
        self.enqueue("inline_query", inline)
        return inline

    def set_bot_status(
        self, chat: JSON | int, status: str, *, by_user: JSON | None = None, **rights: Any
    ) -> JSON:
        """The bot is added, promoted, removed or blocked; queues a "my_chat_member" update.

        ``by_user`` defaults to the private chat's user or the chat's creator. Returns the
        ChatMemberUpdated object.
        """
        target = self._chat(chat)
        bot = self.primary
        if by_user is None:
            if target.type == "private":
                by_user = self.users[target.id]
            else:
                creators = [uid for uid, m in target.members.items() if m.status == "creator"]
                if not creators:
                    raise ValueError("by_user is required: the chat has no creator")
                by_user = self.users[creators[0]]
        old = self.member(target, bot.id)
        self.set_member(target.id, bot.id, status, **rights)
        new = target.members[bot.id]
        changed: JSON = {
            "chat": target.to_dict(),
            "from": by_user,
            "date": int(time.time()),
            "old_chat_member": member_dict(bot.user, old, target.type),
            "new_chat_member": member_dict(bot.user, new, target.type),
        }
        self.enqueue("my_chat_member", changed)
        return changed

    def block_bot(self, user: JSON) -> None:
        """The user blocks the bot: later sends to them get 403 "bot was blocked by the user"."""
        self.set_bot_status(self._private(user).to_dict(), "kicked", by_user=user)

    def delete_chat(self, chat_id: int) -> None:
        """The chat disappears: later calls about it get 400 "chat not found"."""
        self._chat(chat_id).deleted = True
        self.notify()

    def migrate_group(self, chat_id: int) -> int:
        """Upgrade a group to a supergroup; returns the new ``-100...`` id.

        Members carry over; the bot gets the two migration service messages Telegram sends, and
        later calls to the old id get 400 with ``parameters.migrate_to_chat_id``.
        """
        old = self._chat(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError(f"chat {chat_id} is not a basic group")
        new = Chat(
            id=self._new_supergroup_id(),
            type="supergroup",
            title=old.title,
            members={uid: Member(m.status, dict(m.rights)) for uid, m in old.members.items()},
        )
        self.chats[new.id] = new
        old.migrated_to = new.id
        creators = [uid for uid, m in old.members.items() if m.status == "creator"]
        actor = self.users[creators[0]] if creators else GROUP_ANONYMOUS_BOT
        bot_there = self.member(old, self.primary.id).active
        notices = ((old, "migrate_to_chat_id", new.id), (new, "migrate_from_chat_id", old.id))
        for chat, key, value in notices:
            service: JSON = {
                "message_id": self.next_message_id(chat),
                "date": int(time.time()),
                "chat": chat.to_dict(),
                "from": actor,
                key: value,
            }
            self.store_message(service, by_bot=False)
            if bot_there:
                self.enqueue("message", service)
        return new.id
