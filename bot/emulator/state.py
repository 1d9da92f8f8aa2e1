"""The emulated Telegram world: users, chats, memberships, messages and each bot's update queue.

``World`` also carries the simulated *user* actions (a user sends a message, presses a button,
adds the bot to a group...) because each of them is a change to this state plus an update queued
for the bot. The Bot API methods the bot calls live in ``methods.py``; HTTP lives in ``server.py``.

Everything here runs on the event loop that runs the emulator; it is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.html import utf16_len

__all__ = ["BotState", "Chat", "Member", "World", "member_dict"]

JSON = dict[str, Any]

# The senders Telegram shows for messages posted on behalf of a chat.
GROUP_ANONYMOUS_BOT: JSON = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_BOT: JSON = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}

# Update types a bot gets when it never passed allowed_updates (Telegram leaves these three out).
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

ACTIVE_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})

_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_CHANNEL_ADMIN_RIGHTS = ("can_post_messages", "can_edit_messages")
_RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)
_OTHER_MEMBER_FIELDS = (
    "is_anonymous",
    "can_be_edited",
    "custom_title",
    "until_date",
    "is_member",
    "can_pin_messages",
    "can_manage_topics",
    "can_manage_direct_messages",
)
MEMBER_FIELDS = frozenset(
    _ADMIN_RIGHTS + _CHANNEL_ADMIN_RIGHTS + _RESTRICTED_RIGHTS + _OTHER_MEMBER_FIELDS
)

# Entities Telegram finds by itself in a user's text (only the ones bots care about).
_AUTO_ENTITIES = (
    ("bot_command", re.compile(
        r"(?<![\w/<>\\@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])"
    )),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{4,32}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*")),
)  # fmt: skip


@dataclass
class Member:
    """One user's membership of one chat: a Telegram status plus the rights that go with it."""

    status: str
    rights: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether the user is in the chat (any status but left/kicked)."""
        if self.status == "restricted":
            return bool(self.rights.get("is_member", True))
        return self.status in ACTIVE_STATUSES

    def right(self, name: str) -> bool:
        """Whether this member has an admin/restriction right, defaults as in member_dict."""
        if self.status == "creator":
            return True
        if self.status == "administrator":
            return bool(self.rights.get(name, name != "can_promote_members"))
        if self.status == "restricted":
            return bool(self.rights.get(name, False))
        return self.status == "member" and name.startswith("can_send")


@dataclass
class Chat:
    """A chat as the emulator keeps it: its API fields plus members and bookkeeping."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    members: dict[int, Member] = field(default_factory=dict)
    deleted: bool = False
    migrated_to: int | None = None
    next_message_id: int = 1

    def to_dict(self) -> JSON:
        """The ``Chat`` object Telegram puts in messages and updates."""
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class BotState:
    """Everything Telegram keeps per bot token: its user, pending updates, commands, settings."""

    token: str
    user: JSON
    updates: list[JSON] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: list[str] | None = None  # None: never set, i.e. Telegram's default
    poll_generation: int = 0  # bumped by each getUpdates, so an older long poll knows it lost
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # description, short_description, name
    webhook_url: str = ""
    webhook_secret: str = ""  # sent back in X-Telegram-Bot-Api-Secret-Token
    webhook_max_connections: int = 40
    webhook_last_error: str = ""  # getWebhookInfo's last_error_message
    webhook_last_error_date: int = 0

    @property
    def id(self) -> int:
        """The bot's user id."""
        return int(self.user["id"])

    def allows(self, kind: str) -> bool:
        """Whether updates of this type are delivered under the stored allowed_updates."""
        if not self.allowed_updates:
            return kind not in NOT_DELIVERED_BY_DEFAULT
        return kind in self.allowed_updates

    def drop_unwanted_updates(self) -> None:
        """Types outside allowed_updates are never delivered: drop them from the queue."""
        self.updates = [u for u in self.updates if self.allows(update_kind(u))]


def update_kind(update: JSON) -> str:
    """The type of an update ("message", "callback_query"...)."""
    return next(key for key in update if key != "update_id")


def member_dict(user: JSON, member: Member, chat_type: str) -> JSON:
    """The ``ChatMember`` object for ``member``, with every field PTB's de_json requires."""
    status = member.status
    rights = member.rights
    data: JSON = {"status": status, "user": user}
    if status == "creator":
        data["is_anonymous"] = bool(rights.get("is_anonymous", False))
    elif status == "administrator":
        data["can_be_edited"] = bool(rights.get("can_be_edited", False))
        data["is_anonymous"] = bool(rights.get("is_anonymous", False))
        names = list(_ADMIN_RIGHTS)
        if chat_type == "channel":
            names += list(_CHANNEL_ADMIN_RIGHTS)
        else:
            names.append("can_pin_messages")
            if chat_type == "supergroup":
                names.append("can_manage_topics")
        for name in names:
            data[name] = member.right(name)
    elif status == "restricted":
        data["is_member"] = bool(rights.get("is_member", True))
        for name in _RESTRICTED_RIGHTS:
            data[name] = bool(rights.get(name, False))
        data["until_date"] = int(rights.get("until_date", 0))
    elif status == "kicked":
        data["until_date"] = int(rights.get("until_date", 0))
    elif status == "member" and rights.get("until_date"):
        data["until_date"] = int(rights["until_date"])
    if status in {"creator", "administrator"} and rights.get("custom_title"):
        data["custom_title"] = rights["custom_title"]
    return data


def find_entities(text: str) -> list[JSON]:
    """The entities Telegram detects in a user's plain text (bot commands, URLs, mentions...)."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < other_end and other_start < end for other_start, other_end, _ in found):
                continue
            found.append((start, end, kind))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in found
    ]


def api_copy(message: JSON) -> JSON:
    """A message as the Bot API shows it: a deep copy without the emulator's own keys."""
    data = copy.deepcopy(message)
    data.pop("html", None)
    return data


class World:
    """Users, chats, messages and bots, plus the simulated actions of users."""

    def __init__(self) -> None:
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, Chat] = {}
        self.bots: dict[str, BotState] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.bot_messages: list[JSON] = []
        self._sent_by_chat: dict[int, list[JSON]] = {}  # sent(chat_id) without a full scan
        self.deleted: list[JSON] = []
        self.callback_queries: dict[str, JSON] = {}
        self.callback_answers: dict[str, JSON] = {}
        self.inline_queries: dict[str, JSON] = {}
        self.inline_answers: dict[str, JSON] = {}
        self.stopping = False
        self._bot_message_keys: set[tuple[int, int]] = set()
        self._primary: BotState | None = None
        self._changed = asyncio.Event()
        self._next_user_id = 100_000_001
        self._next_group_id = 4_000_000_001
        self._next_channel_id = 1_000_000_001
        self._next_query_id = 4_000_000_000_000_001

    # -- change notification -------------------------------------------------------------

    def notify(self) -> None:
        """Wake everything waiting for a change (long polls, wait_for...)."""
        # A fresh event per change lets synchronous code wake waiters without holding a lock.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, timeout: float) -> None:
        """Return at the next change, or after ``timeout`` seconds."""
        if timeout <= 0:
            return
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    # -- creating users and chats ---------------------------------------------------------

    def _allocate_user_id(self) -> int:
        while self._next_user_id in self.users:
            self._next_user_id += 1
        self._next_user_id += 1
        return self._next_user_id - 1

    def add_bot(
        self, token: str, *, username: str = "newsbot_test_bot", first_name: str = "Newsbot"
    ) -> JSON:
        """Register a bot token and return the bot's User; the first bot gets the user updates.

        The bot's id is the number before ``:`` in the token, as on Telegram, when there is one.
        """
        if token in self.bots:
            raise ValueError(f"bot token {token!r} is already registered")
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() and int(prefix) not in self.users else None
        user: JSON = {
            "id": bot_id if bot_id is not None else self._allocate_user_id(),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.users[user["id"]] = user
        state = BotState(token=token, user=user)
        self.bots[token] = state
        if self._primary is None:
            self._primary = state
        return user

    @property
    def bot(self) -> JSON:
        """The User of the first bot added (the one simulated users talk to)."""
        return self.primary.user

    @property
    def primary(self) -> BotState:
        """The first bot added; simulated user actions produce updates for it."""
        if self._primary is None:
            raise RuntimeError("no bot registered: call add_bot(token) first")
        return self._primary

    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        user_id: int | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        """Create a (human) user and return its User object."""
        if user_id is None:
            user_id = self._allocate_user_id()
        elif user_id in self.users or user_id <= 0:
            raise ValueError(f"user id {user_id} is taken or invalid")
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username.lstrip("@")
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        return user

    def private_chat(self, user: JSON | int) -> JSON:
        """The private chat between the bot and ``user`` (its id is the user's id)."""
        return self._private(user).to_dict()

    def _private(self, user: JSON | int) -> Chat:
        user_id = user if isinstance(user, int) else int(user["id"])
        if user_id not in self.users:
            raise ValueError(f"unknown user {user_id}")
        chat = self.chats.get(user_id)
        if chat is None:
            data = self.users[user_id]
            chat = Chat(
                id=user_id,
                type="private",
                username=data.get("username"),
                first_name=data["first_name"],
                last_name=data.get("last_name"),
            )
            chat.members[user_id] = Member("member")
            self.chats[user_id] = chat
        return chat

    def _check_username(self, username: str | None) -> str | None:
        if username is None:
            return None
        username = username.lstrip("@")
        if self.find_username(username) is not None:
            raise ValueError(f"username @{username} is taken")
        return username

    def _new_supergroup_id(self) -> int:
        self._next_channel_id += 1
        return -(1_000_000_000_000 + self._next_channel_id - 1)

    def add_group(
        self,
        title: str,
        *,
        supergroup: bool = False,
        forum: bool = False,
        members: dict[int, str] | None = None,
        username: str | None = None,
    ) -> JSON:
        """Create a group (or supergroup, or forum supergroup) and return its Chat.

        ``members`` maps user ids to statuses ("creator", "administrator", "member"...). The bot
        is a member of a new group unless ``members`` says otherwise for its id.
        """
        if forum or username:
            supergroup = True
        if supergroup:
            chat_id = self._new_supergroup_id()
        else:
            chat_id = -self._next_group_id
            self._next_group_id += 1
        chat = Chat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=self._check_username(username),
            is_forum=forum,
        )
        self.chats[chat_id] = chat
        for user_id, status in (members or {}).items():
            self.set_member(chat_id, user_id, status)
        return chat.to_dict()

    def add_channel(
        self, title: str, *, username: str | None = None, admins: Iterable[int] = ()
    ) -> JSON:
        """Create a channel and return its Chat.

        The first human in ``admins`` becomes its creator, the others administrators. The bot is
        *not* in a new channel: list its id in ``admins`` (it then gets can_post_messages) or use
        set_member / set_bot_status.
        """
        chat_id = self._new_supergroup_id()
        chat = Chat(
            id=chat_id, type="channel", title=title, username=self._check_username(username)
        )
        self.chats[chat_id] = chat
        has_creator = False
        for user_id in admins:
            is_bot = self._user(user_id).get("is_bot", False)
            if not has_creator and not is_bot:
                self.set_member(chat_id, user_id, "creator")
                has_creator = True
            else:
                self.set_member(chat_id, user_id, "administrator")
        return chat.to_dict()

    def set_member(self, chat_id: int, user_id: int, status: str, **rights: Any) -> None:
        """Set a user's (or a bot's) status and rights in a chat, silently (no update).

        Rights are ChatMember fields, e.g. ``can_post_messages=False``; an administrator gets
        every right but can_promote_members unless told otherwise.
        """
        chat = self._chat(chat_id)
        self._user(user_id)
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {sorted(STATUSES)}")
        unknown = set(rights) - MEMBER_FIELDS
        if unknown:
            raise ValueError(f"unknown ChatMember fields: {sorted(unknown)}")
        chat.members[user_id] = Member(status, dict(rights))
        self.notify()

    def find_username(self, username: str) -> Chat | None:
        """The public group or channel with this @username (case-insensitive), if any."""
        wanted = username.lstrip("@").lower()
        for chat in self.chats.values():
            if chat.type != "private" and chat.username and chat.username.lower() == wanted:
                return chat
        return None

    def _user(self, user_id: int) -> JSON:
        try:
            return self.users[user_id]
        except KeyError:
            raise ValueError(f"unknown user {user_id}") from None

    def _chat(self, chat: JSON | int) -> Chat:
        chat_id = chat if isinstance(chat, int) else int(chat["id"])
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id in self.users:
            return self._private(chat_id)
        raise ValueError(f"unknown chat {chat_id}")

    def member(self, chat: Chat, user_id: int) -> Member:
        """A user's membership, with the defaults for members never set explicitly.

        Bots are in private chats and in groups unless told otherwise, and not in channels.
        """
        member = chat.members.get(user_id)
        if member is not None:
            return member
        user = self.users.get(user_id)
        is_our_bot = user is not None and user.get("is_bot") and user_id in self._bot_ids()
        if is_our_bot and chat.type in {"private", "group", "supergroup"}:
            return Member("member")
        if chat.type == "private" and user_id == chat.id:
            return Member("member")
        return Member("left")

    def _bot_ids(self) -> set[int]:
        return {state.id for state in self.bots.values()}

    # -- messages and updates ---------------------------------------------------------------

    def next_message_id(self, chat: Chat) -> int:
        """Allocate the next message id in a chat."""
        chat.next_message_id += 1
        return chat.next_message_id - 1

    def store_message(self, message: JSON, *, by_bot: bool) -> None:
        """Keep a message (sent by the bot or by a simulated user) for later lookups."""
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self.messages[key] = message
        if by_bot:
            self._bot_message_keys.add(key)
            self.bot_messages.append(message)
            self._sent_by_chat.setdefault(key[0], []).append(message)
        self.notify()

    def is_bot_message(self, chat_id: int, message_id: int) -> bool:
        """Whether the stored message was sent by a bot through the API."""
        return (chat_id, message_id) in self._bot_message_keys

    def remove_message(self, chat_id: int, message_id: int) -> None:
        """Forget a deleted message (it moves to ``deleted``)."""
        message = self.messages.pop((chat_id, message_id))
        if (chat_id, message_id) in self._bot_message_keys:
            self._bot_message_keys.discard((chat_id, message_id))
            self.bot_messages.remove(message)
            self._sent_by_chat[chat_id].remove(message)
        self.deleted.append(message)
        self.notify()

    def enqueue(self, kind: str, obj: JSON, bot: BotState | None = None) -> JSON:
        """Queue an update of type ``kind`` for the bot (a snapshot of ``obj``)."""
        state = bot or self.primary
        update = {"update_id": state.next_update_id, kind: api_copy(obj)}
        state.next_update_id += 1
        state.updates.append(update)
        self.notify()
        return update

    def _new_query_id(self) -> str:
        self._next_query_id += 1
        return str(self._next_query_id - 1)

    # -- simulated user actions -------------------------------------------------------------

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

    # -- inspection ---------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bots sent, oldest first (edits show in place; deleted ones are gone).

        Each has the Bot API fields plus ``html``: the raw text the bot sent.
        """
        if chat_id is None:
            return list(self.bot_messages)
        return list(self._sent_by_chat.get(chat_id, ()))

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true; AssertionError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout} s")
            # Also re-check now and then: the predicate may depend on things outside the world.
            await self.wait_change(min(remaining, 0.05))

    async def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0
    ) -> list[JSON]:
        """Wait until the bot has sent at least ``count`` messages to the chat; returns them."""
        try:
            await self.wait_for(lambda: len(self.sent(chat_id)) >= count, timeout)
        except AssertionError:
            texts = [m.get("text") for m in self.sent(chat_id)]
            raise AssertionError(
                f"expected {count} bot message(s) in chat {chat_id} within {timeout} s, "
                f"got {len(texts)}: {texts!r}"
            ) from None
        return self.sent(chat_id)
