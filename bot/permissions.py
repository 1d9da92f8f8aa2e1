"""Who may change which chat's subscriptions, and which chat a subscription command is about.

Groups and channels are shared spaces: only their administrators change what they receive.
A command acts on the chat it is sent in, except that in a private chat it may name a channel
(``/subscribe @channel topic`` or its numeric id ``-100…``); then the sender must be an admin
of that channel and, to subscribe, the bot must be an admin there that may post.

Every refusal is a :class:`Refusal` whose text is the (HTML) reply for the user.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html import escape
from typing import Protocol

from telegram import ChatFullInfo, ChatMember, Message
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden

from bot.i18n import N_, _

log = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})

#: ``@username`` (Telegram usernames: 4–32 letters, digits, underscores) or a ``-100…`` id.
_CHANNEL_REF = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100[0-9]{4,15})$")

GROUP_REFUSAL = N_("Sorry, only this group's administrators can change its subscriptions. "
                 "Anyone can see them with /subscriptions.")
ON_BEHALF_REFUSAL = N_("Sorry, subscriptions of this group can only be changed by its "
                     "administrators, not by messages sent on behalf of another chat.")
PRIVATE_ONLY = N_("To manage a channel from outside it, send me this command in a private chat "
                "(or post it in the channel itself).")
CHECK_FAILED = N_("I could not check your rights just now, so I changed nothing. "
                  "Please try again in a moment.")

#: getChatMember refusals that answer the question ("not a member", or in a channel "you may
#: not see its members"); any other error leaves the rights unknown.
_NOT_A_MEMBER = ("user not found", "member not found", "participant_id_invalid",
                 "user_not_participant", "member list is inaccessible", "chat not found")


class Refusal(Exception):
    """The command may not act; ``str()`` is the HTML reply that says why."""


class MemberLookup(Protocol):
    """The part of :class:`telegram.Bot` these checks need (a stub in unit tests)."""

    @property
    def id(self) -> int: ...

    async def get_chat(self, chat_id: int | str) -> ChatFullInfo: ...

    async def get_chat_member(self, chat_id: int | str, user_id: int) -> ChatMember: ...


@dataclass(frozen=True)
class Target:
    """The chat (and forum thread) a subscription command acts on."""

    chat_id: int
    type: str
    title: str | None = None
    username: str | None = None
    #: The forum thread alerts go to; 0 for none.
    thread_id: int = 0
    #: True when a channel is managed from a private chat, so replies must name it.
    remote: bool = False

    @property
    def name_html(self) -> str:
        """How replies name the chat: "this chat", or the channel's @username or title."""
        if not self.remote:
            return _("this chat")
        if self.username:
            return f"@{escape(self.username)}"
        return f"“{escape(self.title or str(self.chat_id))}”"


def thread_of(message: Message) -> int:
    """The forum thread a message was posted in, 0 outside forum topics.

    ``message_thread_id`` is also set on replies in ordinary groups, where it is no thread.
    """
    return (message.message_thread_id or 0) if message.is_topic_message else 0


def split_channel_ref(argument: str) -> tuple[str | None, str]:
    """``"@news trafficking"`` -> ``("@news", "trafficking")``; else ``(None, argument)``."""
    parts = argument.split(maxsplit=1)
    if parts and _CHANNEL_REF.match(parts[0]):
        return parts[0], parts[1] if len(parts) > 1 else ""
    return None, argument


async def is_admin(bot: MemberLookup, chat_id: int, user_id: int) -> bool:
    """Is the user the chat's creator or one of its administrators?

    Raises :class:`Refusal` when Telegram cannot be asked, so a network hiccup is not
    mistaken for "not an admin".
    """
    member = await _member(bot, chat_id, user_id)
    return member is not None and member.status in ADMIN_STATUSES


async def bot_can_post(bot: MemberLookup, chat_id: int) -> bool:
    """May the bot post in this channel (an administrator with ``can_post_messages``)?"""
    member = await _member(bot, chat_id, bot.id)
    if member is None:
        return False
    if member.status == ChatMemberStatus.OWNER:
        return True
    return (member.status == ChatMemberStatus.ADMINISTRATOR
            and bool(getattr(member, "can_post_messages", False)))


async def _member(bot: MemberLookup, chat_id: int, user_id: int) -> ChatMember | None:
    """The member, None when Telegram says there is none to see; :class:`Refusal` when the
    rights cannot be known (a network error, an unexpected refusal, an answer PTB cannot read),
    so that an error is never taken for a "no" nor shown as "something went wrong"."""
    try:
        return await bot.get_chat_member(chat_id, user_id)
    except Forbidden:  # the chat is closed to the bot
        return None
    except BadRequest as exc:
        if any(known in exc.message.lower() for known in _NOT_A_MEMBER):
            return None
        log.warning("getChatMember(%s, %s) failed: %s", chat_id, user_id, exc)
        raise Refusal(_(CHECK_FAILED)) from None
    except Exception:
        log.warning("getChatMember(%s, %s) failed", chat_id, user_id, exc_info=True)
        raise Refusal(_(CHECK_FAILED)) from None


async def may_manage(bot: MemberLookup, chat_id: int, user_id: int) -> bool:
    """May this user change the subscriptions of ``chat_id`` (e.g. by pressing a button)?

    A private chat's id is its user's id, so a user always manages their own chat.
    """
    return chat_id == user_id or await is_admin(bot, chat_id, user_id)


async def check_may_change(bot: MemberLookup, message: Message) -> None:
    """Raise :class:`Refusal` unless the sender may change the subscriptions of the chat
    the message was sent in."""
    chat = message.chat
    # Only a channel's admins can post in it, and a private chat is its user's own.
    if chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return
    if message.sender_chat is not None:
        # An anonymous admin posts as the group itself; anything else is a channel speaking.
        if message.sender_chat.id == chat.id:
            return
        raise Refusal(_(ON_BEHALF_REFUSAL))
    user = message.from_user
    if user is None or not await is_admin(bot, chat.id, user.id):
        raise Refusal(_(GROUP_REFUSAL))


async def channel_target(bot: MemberLookup, ref: str, user_id: int, *,
                         subscribing: bool) -> Target:
    """The channel ``ref`` (``@name`` or ``-100…``) managed from a private chat by ``user_id``.

    The user must be one of its administrators; to subscribe, the bot must also be an
    administrator there that may post. The refusal names whichever is missing.
    """
    shown = escape(ref)
    try:
        chat = await bot.get_chat(int(ref) if ref.lstrip("-").isdigit() else ref)
    except (BadRequest, Forbidden):
        raise Refusal(_("Channel {channel} not found, or I'm not in it. Add me to the channel "
                        "as an administrator first.").format(channel=shown)) from None
    except Exception:
        log.warning("getChat(%s) failed", ref, exc_info=True)
        raise Refusal(_(CHECK_FAILED)) from None
    if chat.type != ChatType.CHANNEL:
        raise Refusal(_("{chat} is not a channel. For a group, send the command in the "
                        "group itself.").format(chat=shown))
    target = Target(chat.id, chat.type, chat.title, chat.username, remote=True)
    bot_ok = await bot_can_post(bot, chat.id) if subscribing else True
    # Telegram shows a channel's members only to its admin bots ("member list is
    # inaccessible" otherwise): then the user's rights are unknown, not missing.
    member = await _member(bot, chat.id, user_id)
    missing = []
    if member is not None and member.status not in ADMIN_STATUSES:
        missing.append(_("you are not an administrator of {channel}")
                       .format(channel=target.name_html))
    if not bot_ok:
        missing.append(_("I am not an administrator of {channel} allowed to post "
                         "messages (make me one with “Post messages”)")
                       .format(channel=target.name_html))
    elif member is None:
        missing.append(_("I cannot see the administrators of {channel}: make me an "
                         "administrator there first").format(channel=target.name_html))
    if missing:
        raise Refusal(_("I can't do that: {reasons}.").format(reasons=_(" and ").join(missing)))
    return target


async def resolve_target(bot: MemberLookup, message: Message, argument: str, *,
                         change: bool, subscribing: bool = False) -> tuple[Target, str]:
    """Which chat a command acts on, and the rest of its argument (the topic).

    With ``change`` the sender must be allowed to change that chat's subscriptions;
    ``subscribing`` additionally requires that the bot may post in a named channel.
    Raises :class:`Refusal` otherwise.
    """
    ref, rest = split_channel_ref(argument)
    chat = message.chat
    if ref is not None:
        user = message.from_user
        if chat.type != ChatType.PRIVATE or user is None:
            raise Refusal(_(PRIVATE_ONLY))
        # Listing a channel's subscriptions also needs admin rights: the list has remove
        # buttons, and what a channel follows is its admins' business.
        return await channel_target(bot, ref, user.id, subscribing=subscribing), rest
    if change:
        await check_may_change(bot, message)
    title = chat.title or chat.full_name
    return Target(chat.id, chat.type, title, chat.username, thread_of(message)), argument
