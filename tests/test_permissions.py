"""Unit tests of bot.permissions: who may change which chat's subscriptions.

A stub stands in for the Bot (only ``id``, ``get_chat`` and ``get_chat_member`` are used);
the end-to-end tests drive the same rules through the emulator.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telegram import (
    Chat,
    ChatMember,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    Message,
    User,
)
from telegram.error import BadRequest, Forbidden, TimedOut

from bot.permissions import (
    GROUP_REFUSAL,
    ON_BEHALF_REFUSAL,
    PRIVATE_ONLY,
    Refusal,
    Target,
    bot_can_post,
    channel_target,
    check_may_change,
    is_admin,
    may_manage,
    resolve_target,
    split_channel_ref,
    thread_of,
)

BOT = User(1000, "newsbot", is_bot=True)
ADA = User(1, "Ada", is_bot=False)
BOB = User(2, "Bob", is_bot=False)
GROUP = Chat(-500, "supergroup", title="Workers")
CHANNEL = Chat(-1001234, "channel", title="ILO <news>", username="ilonews")
PRIVATE = Chat(ADA.id, "private", first_name="Ada")


def admin(user: User, **rights: bool) -> ChatMemberAdministrator:
    defaults = dict(can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                    can_delete_messages=True, can_manage_video_chats=True,
                    can_restrict_members=True, can_promote_members=False,
                    can_change_info=True, can_invite_users=True, can_post_stories=False,
                    can_edit_stories=False, can_delete_stories=False)
    return ChatMemberAdministrator(user, **(defaults | rights))


class StubBot:
    """Answers getChat / getChatMember from dicts; an Exception value is raised."""

    def __init__(self, chats: dict[int | str, Chat | Exception] | None = None,
                 members: dict[tuple[int, int], ChatMember | Exception] | None = None) -> None:
        self.chats = chats or {}
        self.members = members or {}
        self.calls: list[tuple[str, object]] = []

    @property
    def id(self) -> int:
        return BOT.id

    async def get_chat(self, chat_id: int | str) -> Chat:
        self.calls.append(("getChat", chat_id))
        found = self.chats.get(chat_id, BadRequest("Chat not found"))
        if isinstance(found, Exception):
            raise found
        return found

    async def get_chat_member(self, chat_id: int | str, user_id: int) -> ChatMember:
        self.calls.append(("getChatMember", (chat_id, user_id)))
        found = self.members.get((int(chat_id), user_id), BadRequest("User not found"))
        if isinstance(found, Exception):
            raise found
        return found


def message(chat: Chat, user: User | None = None, text: str = "/subscribe x",
            **kwargs: object) -> Message:
    return Message(1, datetime.now(UTC), chat, from_user=user, text=text, **kwargs)


# -- parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("argument", "expected"), [
    ("@ilonews trafficking -football", ("@ilonews", "trafficking -football")),
    ("@ilonews", ("@ilonews", "")),
    ("-1001234567 child labour", ("-1001234567", "child labour")),
    ("trafficking", (None, "trafficking")),
    ("", (None, "")),
    ("-football trafficking", (None, "-football trafficking")),  # an exclusion, not an id
    ("-42 x", (None, "-42 x")),                                  # not a channel id
    ("@ab x", (None, "@ab x")),                                  # too short for a username
])
def test_split_channel_ref(argument: str, expected: tuple[str | None, str]) -> None:
    assert split_channel_ref(argument) == expected


def test_thread_only_for_forum_topic_messages() -> None:
    forum = Chat(-600, "supergroup", title="Forum", is_forum=True)
    assert thread_of(message(forum, ADA, is_topic_message=True, message_thread_id=7)) == 7
    # A reply in an ordinary group carries a thread id too, but it is no forum topic.
    assert thread_of(message(GROUP, ADA, message_thread_id=7)) == 0
    assert thread_of(message(GROUP, ADA)) == 0


def test_automatic_forward_is_an_echo() -> None:
    from telegram import Update

    from bot.app import NOT_ECHO

    echo = message(GROUP, None, sender_chat=CHANNEL, is_automatic_forward=True)
    assert not NOT_ECHO.check_update(Update(1, message=echo))
    assert NOT_ECHO.check_update(Update(2, message=message(GROUP, ADA)))


def test_target_names() -> None:
    assert Target(1, "private").name_html == "this chat"
    assert Target(-1, "channel", "A<b>", "chan", remote=True).name_html == "@chan"
    assert Target(-1, "channel", "A<b>", None, remote=True).name_html == "“A&lt;b&gt;”"


# -- groups ----------------------------------------------------------------------------------

async def test_is_admin_statuses() -> None:
    bot = StubBot(members={(GROUP.id, ADA.id): ChatMemberOwner(ADA, is_anonymous=False),
                           (GROUP.id, BOB.id): ChatMemberMember(BOB)})
    assert await is_admin(bot, GROUP.id, ADA.id)
    assert not await is_admin(bot, GROUP.id, BOB.id)
    assert not await is_admin(bot, GROUP.id, 99)  # BadRequest: not a member


async def test_is_admin_network_failure_is_not_a_no() -> None:
    bot = StubBot(members={(GROUP.id, ADA.id): TimedOut()})
    with pytest.raises(Refusal, match="try again"):
        await is_admin(bot, GROUP.id, ADA.id)


async def test_group_admin_may_change_member_may_not() -> None:
    bot = StubBot(members={(GROUP.id, ADA.id): admin(ADA),
                           (GROUP.id, BOB.id): ChatMemberMember(BOB)})
    await check_may_change(bot, message(GROUP, ADA))
    with pytest.raises(Refusal) as refused:
        await check_may_change(bot, message(GROUP, BOB))
    assert str(refused.value) == GROUP_REFUSAL


async def test_anonymous_admin_posts_as_the_group() -> None:
    bot = StubBot()  # no lookup needed: only admins can post as the group
    anonymous = User(1087968824, "Group", is_bot=True, username="GroupAnonymousBot")
    await check_may_change(bot, message(GROUP, anonymous, sender_chat=GROUP))
    assert bot.calls == []


async def test_message_on_behalf_of_a_channel_is_refused_in_a_group() -> None:
    with pytest.raises(Refusal) as refused:
        await check_may_change(StubBot(), message(GROUP, None, sender_chat=CHANNEL))
    assert str(refused.value) == ON_BEHALF_REFUSAL


async def test_private_and_channel_posts_need_no_lookup() -> None:
    bot = StubBot()
    await check_may_change(bot, message(PRIVATE, ADA))
    await check_may_change(bot, message(CHANNEL, None, sender_chat=CHANNEL))
    assert bot.calls == []


async def test_may_manage_own_private_chat_or_as_admin() -> None:
    bot = StubBot(members={(GROUP.id, ADA.id): admin(ADA)})
    assert await may_manage(bot, ADA.id, ADA.id)
    assert await may_manage(bot, GROUP.id, ADA.id)
    assert not await may_manage(bot, GROUP.id, BOB.id)
    assert not await may_manage(bot, BOB.id, ADA.id)  # someone else's private chat


# -- channels managed from a private chat ----------------------------------------------------

def channel_bot(*, user_admin: bool, bot_posts: bool | None) -> StubBot:
    members: dict[tuple[int, int], ChatMember | Exception] = {}
    if user_admin:
        members[(CHANNEL.id, ADA.id)] = admin(ADA, can_post_messages=True)
    else:
        members[(CHANNEL.id, ADA.id)] = ChatMemberLeft(ADA)
    if bot_posts is not None:
        members[(CHANNEL.id, BOT.id)] = admin(BOT, can_post_messages=bot_posts)
    return StubBot(chats={"@ilonews": CHANNEL, CHANNEL.id: CHANNEL}, members=members)


async def test_channel_target_when_both_are_admins() -> None:
    bot = channel_bot(user_admin=True, bot_posts=True)
    target = await channel_target(bot, "@ilonews", ADA.id, subscribing=True)
    assert target == Target(CHANNEL.id, "channel", "ILO <news>", "ilonews", 0, remote=True)
    by_id = await channel_target(bot, str(CHANNEL.id), ADA.id, subscribing=True)
    assert by_id.chat_id == CHANNEL.id


async def test_channel_target_user_not_admin() -> None:
    bot = channel_bot(user_admin=False, bot_posts=True)
    with pytest.raises(Refusal) as refused:
        await channel_target(bot, "@ilonews", ADA.id, subscribing=True)
    assert "you are not an administrator of @ilonews" in str(refused.value)
    assert "I am not" not in str(refused.value)


@pytest.mark.parametrize("bot_posts", [False, None])
async def test_channel_target_bot_cannot_post(bot_posts: bool | None) -> None:
    bot = channel_bot(user_admin=True, bot_posts=bot_posts)
    with pytest.raises(Refusal) as refused:
        await channel_target(bot, "@ilonews", ADA.id, subscribing=True)
    assert "I am not an administrator of @ilonews allowed to post" in str(refused.value)
    assert "you are not" not in str(refused.value)
    # Removing or listing needs only the user's rights.
    assert (await channel_target(bot, "@ilonews", ADA.id, subscribing=False)).remote


async def test_channel_target_both_missing_names_both() -> None:
    bot = channel_bot(user_admin=False, bot_posts=False)
    with pytest.raises(Refusal) as refused:
        await channel_target(bot, "@ilonews", ADA.id, subscribing=True)
    assert "you are not" in str(refused.value) and "I am not" in str(refused.value)


@pytest.mark.parametrize("error", [BadRequest("Chat not found"), Forbidden("bot was kicked")])
async def test_channel_not_found(error: Exception) -> None:
    bot = StubBot(chats={"@gone_chan": error})
    with pytest.raises(Refusal, match="not found, or I'm not in it"):
        await channel_target(bot, "@gone_chan", ADA.id, subscribing=True)


async def test_a_group_is_not_a_channel() -> None:
    bot = StubBot(chats={"@workers": GROUP})
    with pytest.raises(Refusal, match="is not a channel"):
        await channel_target(bot, "@workers", ADA.id, subscribing=True)


async def test_bot_can_post_rules() -> None:
    bot = StubBot(members={(-1, BOT.id): admin(BOT, can_post_messages=True),
                           (-2, BOT.id): admin(BOT),
                           (-3, BOT.id): ChatMemberMember(BOT)})
    assert await bot_can_post(bot, -1)
    assert not await bot_can_post(bot, -2)
    assert not await bot_can_post(bot, -3)
    assert not await bot_can_post(bot, -4)


# -- resolve_target ---------------------------------------------------------------------------

async def test_resolve_here_with_thread() -> None:
    forum = Chat(-600, "supergroup", title="Forum", is_forum=True)
    bot = StubBot(members={(forum.id, ADA.id): admin(ADA)})
    msg = message(forum, ADA, is_topic_message=True, message_thread_id=9)
    target, rest = await resolve_target(bot, msg, "trafficking", change=True)
    assert target == Target(forum.id, "supergroup", "Forum", None, 9)
    assert rest == "trafficking"


async def test_resolve_listing_needs_no_admin() -> None:
    bot = StubBot(members={(GROUP.id, BOB.id): ChatMemberMember(BOB)})
    target, _ = await resolve_target(bot, message(GROUP, BOB), "", change=False)
    assert target.chat_id == GROUP.id
    with pytest.raises(Refusal):
        await resolve_target(bot, message(GROUP, BOB), "x", change=True)


async def test_resolve_channel_only_from_private() -> None:
    bot = channel_bot(user_admin=True, bot_posts=True)
    target, rest = await resolve_target(bot, message(PRIVATE, ADA), "@ilonews child labour",
                                        change=True, subscribing=True)
    assert (target.chat_id, target.remote, rest) == (CHANNEL.id, True, "child labour")
    with pytest.raises(Refusal) as refused:
        await resolve_target(bot, message(GROUP, ADA), "@ilonews x", change=True)
    assert str(refused.value) == PRIVATE_ONLY


async def test_channel_member_list_inaccessible_blames_only_the_bot() -> None:
    # Telegram hides a channel's members from bots that are not its admins.
    hidden = BadRequest("member list is inaccessible")
    bot = StubBot(chats={"@ilonews": CHANNEL},
                  members={(CHANNEL.id, ADA.id): hidden, (CHANNEL.id, BOT.id): hidden})
    with pytest.raises(Refusal) as refused:
        await channel_target(bot, "@ilonews", ADA.id, subscribing=True)
    assert "I am not an administrator of @ilonews allowed to post" in str(refused.value)
    assert "you are not" not in str(refused.value)
    with pytest.raises(Refusal, match="I cannot see the administrators of @ilonews"):
        await channel_target(bot, "@ilonews", ADA.id, subscribing=False)
