"""Chats and members: getChat, members and administrators, member count, leaving."""

from __future__ import annotations

import time

from bot.emulator.errors import bad_request, forbidden
from bot.emulator.methods.api import BotApi, api_method
from bot.emulator.methods.params import JSON, get_int
from bot.emulator.model import BotState, Member, member_dict


@api_method("getChat")
def get_chat(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """The ChatFullInfo of a chat the bot can see."""
    chat = api.resolve_chat(params)
    member = api.world.member(chat, bot.id)
    if chat.type != "private":
        kind = f"{chat.type} chat"
        if member.status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if not member.active and not chat.username:
            raise bad_request("chat not found")
    info = chat.to_dict()
    info.update(
        {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
    )
    return info


@api_method("getChatMember")
def get_chat_member(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """A user's ChatMember object in a chat ("left" when not in it)."""
    chat = api.resolve_chat(params)
    user_id = get_int(params, "user_id", required=True)
    user = api.world.users.get(user_id) if user_id is not None else None
    if user is None:
        raise bad_request("user not found")
    api.check_members_visible(bot, chat, user_id)
    return member_dict(user, api.world.member(chat, user["id"]), chat.type)


@api_method("getChatAdministrators")
def get_chat_administrators(api: BotApi, bot: BotState, params: JSON) -> list[JSON]:
    """The creator and administrators of a group or channel."""
    chat = api.resolve_chat(params)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    api.check_members_visible(bot, chat, None)
    return [
        member_dict(api.world.users[uid], member, chat.type)
        for uid, member in chat.members.items()
        if member.status in {"creator", "administrator"}
    ]


@api_method("getChatMemberCount")
def get_chat_member_count(api: BotApi, bot: BotState, params: JSON) -> int:
    """How many users are in the chat (the bot included where it is a member)."""
    chat = api.resolve_chat(params)
    if chat.type == "private":
        return 2
    ids = set(chat.members) | {bot.id}
    return sum(1 for uid in ids if api.world.member(chat, uid).active)


@api_method("leaveChat")
def leave_chat(api: BotApi, bot: BotState, params: JSON) -> bool:
    """The bot leaves a group or channel (the bot gets its my_chat_member update)."""
    chat = api.resolve_chat(params)
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    old = api.world.member(chat, bot.id)
    if not old.active:
        raise forbidden(f"bot is not a member of the {chat.type} chat")
    chat.members[bot.id] = Member("left")
    api.world.enqueue(
        "my_chat_member",
        {
            "chat": chat.to_dict(),
            "from": dict(bot.user),
            "date": int(time.time()),
            "old_chat_member": member_dict(bot.user, old, chat.type),
            "new_chat_member": member_dict(bot.user, chat.members[bot.id], chat.type),
        },
        bot,
    )
    return True
