"""The records the emulated Telegram keeps: members and their rights, chats, and each bot's
settings and update queue, with the Bot API objects built from them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BotState", "Chat", "Member", "api_copy", "member_dict", "update_kind"]

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


def api_copy(message: JSON) -> JSON:
    """A message as the Bot API shows it: a deep copy without the emulator's own keys."""
    data = copy.deepcopy(message)
    data.pop("html", None)
    return data
