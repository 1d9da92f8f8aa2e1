"""The emulated Telegram world: users, chats, memberships, messages and each bot's update queue.

What simulated *users* do (send a message, press a button, add the bot to a group...) is in
``users.py``; the Bot API methods the bot calls live in ``methods/``; HTTP lives in
``server.py``.

Everything here runs on the event loop that runs the emulator; it is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from bot.emulator.model import (
    JSON,
    MEMBER_FIELDS,
    STATUSES,
    BotState,
    Chat,
    Member,
    api_copy,
)

__all__ = ["World"]


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
