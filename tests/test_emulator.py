"""The Bot API emulator over real HTTP, driven by python-telegram-bot's ``Bot`` and raw httpx.

PTB's ``Bot`` proves the emulator's answers parse as real Telegram objects and its errors map
to the same PTB exceptions; raw httpx checks the exact JSON shapes and descriptions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import telegram
from telegram.constants import ChatMemberStatus
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.emulator import Emulator, FloodLimits

# PTB itself warns when it builds a RetryAfter (its retry_after type will change); not ours.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:emulator-test-token"
BOT_NAME = "newsbot_test_bot"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        emulator.add_bot(TOKEN, username=BOT_NAME)
        yield emulator


@pytest.fixture
async def tg(emu: Emulator) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=emu.base_url) as bot:
        yield bot


@pytest.fixture
async def raw(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{emu.base_url}{TOKEN}/", timeout=10) as client:
        yield client


@pytest.fixture
def alice(emu: Emulator) -> dict[str, Any]:
    return emu.add_user("Alice", username="alice")


def keyboard(*data: str) -> telegram.InlineKeyboardMarkup:
    return telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton(d, callback_data=d) for d in data]]
    )


# -- basics ------------------------------------------------------------------------------------


async def test_get_me_and_address(emu: Emulator, tg: telegram.Bot) -> None:
    me = await tg.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, BOT_NAME, True)
    assert emu.base_url == f"http://127.0.0.1:{emu.port}/bot"
    assert emu.base_file_url == f"http://127.0.0.1:{emu.port}/file/bot"
    assert [r.method for r in emu.requests] == ["getMe", "getMe"]


async def test_unknown_token_is_401_and_unknown_method_404(emu: Emulator) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emu.base_url}999:nope/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        response = await client.post(f"{emu.base_url}{TOKEN}/sendTelepathy")
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    with pytest.raises(InvalidToken):
        async with telegram.Bot("999:nope", base_url=emu.base_url):
            pass


async def test_json_form_and_query_bodies(
    emu: Emulator, raw: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    markup = {"inline_keyboard": [[{"text": "More", "callback_data": "more:1"}]]}
    by_json = await raw.post(
        "sendMessage", json={"chat_id": alice["id"], "text": "123", "reply_markup": markup}
    )
    by_form = await raw.post(
        "sendMessage",
        data={"chat_id": str(alice["id"]), "text": "456", "reply_markup": json.dumps(markup)},
    )
    by_query = await raw.get("sendMessage", params={"chat_id": alice["id"], "text": "true"})
    by_multipart = await raw.post(
        "sendMessage",
        data={"chat_id": str(alice["id"]), "text": "multi"},
        files={"ignored": ("a.txt", b"abc")},
    )
    assert [r.status_code for r in (by_json, by_form, by_query, by_multipart)] == [200] * 4
    sent = emu.sent(alice["id"])
    assert [m["text"] for m in sent] == ["123", "456", "true", "multi"]
    assert sent[0]["reply_markup"] == sent[1]["reply_markup"] == markup
    assert by_form.json()["result"]["chat"] == {
        "id": alice["id"],
        "type": "private",
        "username": "alice",
        "first_name": "Alice",
    }
    assert emu.requests[1].params["reply_markup"] == markup


async def test_missing_parameters(raw: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    response = await raw.post("sendMessage", json={"text": "hi"})
    assert response.json()["description"] == "Bad Request: chat_id is empty"
    response = await raw.post("sendMessage", json={"chat_id": alice["id"]})
    assert response.json()["description"] == "Bad Request: message text is empty"
    response = await raw.post("sendMessage", json={"chat_id": alice["id"], "text": " \n "})
    assert response.json()["description"] == "Bad Request: message text is empty"
    response = await raw.post("sendMessage", json={"chat_id": 987654321, "text": "hi"})
    assert (response.status_code, response.json()["description"]) == (
        400,
        "Bad Request: chat not found",
    )


# -- getUpdates --------------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    poll = asyncio.create_task(tg.get_updates(timeout=20))
    await asyncio.sleep(0.1)  # a span: the long poll holds while nothing arrives
    assert not poll.done()
    emu.send_message(alice, "/ping@newsbot_test_bot now")
    updates = await asyncio.wait_for(poll, 5)
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/ping@newsbot_test_bot now"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 22
    assert message.from_user is not None and message.from_user.id == alice["id"]


async def test_offsets_confirm_and_negative_offset_forgets(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    for n in range(5):
        emu.send_message(alice, f"m{n}")
    updates = await tg.get_updates()
    ids = [u.update_id for u in updates]
    assert len(ids) == 5 and ids == sorted(ids)
    assert [u.update_id for u in await tg.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await tg.get_updates(offset=ids[2])] == ids[2:]
    assert [u.update_id for u in await tg.get_updates()] == ids[2:]  # confirmed stay gone
    assert [u.update_id for u in await tg.get_updates(offset=-1)] == ids[4:]
    assert [u.update_id for u in await tg.get_updates()] == ids[4:]  # earlier ones forgotten
    assert await tg.get_updates(offset=ids[4] + 1) == ()


async def test_allowed_updates_filter_and_persist(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    await tg.get_updates(allowed_updates=["callback_query"])
    emu.send_message(alice, "ignored")
    assert await tg.get_updates() == ()  # the filter persisted without being passed again
    sent = await tg.send_message(alice["id"], "pick", reply_markup=keyboard("a"))
    emu.press_button(emu.sent(alice["id"])[0], "a", from_user=alice)
    updates = await tg.get_updates()
    assert [u.callback_query.data for u in updates if u.callback_query] == ["a"]
    assert sent.message_id == emu.sent(alice["id"])[0]["message_id"]
    await tg.get_updates(offset=updates[-1].update_id + 1, allowed_updates=[])
    emu.send_message(alice, "seen again")
    assert [u.message.text for u in await tg.get_updates() if u.message] == ["seen again"]
    poll = next(r for r in emu.requests if r.method == "getUpdates")
    assert poll.params["allowed_updates"] == ["callback_query"]


async def test_second_get_updates_ends_the_first_with_409(
    emu: Emulator, raw: httpx.AsyncClient, tg: telegram.Bot
) -> None:
    state = emu.bots[TOKEN]
    first = asyncio.create_task(raw.post("getUpdates", data={"timeout": "10"}))
    await emu.wait_for(lambda: state.poll_generation == 1)
    second = asyncio.create_task(raw.post("getUpdates", json={"timeout": 0}))
    response = await asyncio.wait_for(first, 5)
    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    }
    assert (await second).status_code == 200

    # Two bot instances with the same token: PTB sees Conflict in the older one.
    older = asyncio.create_task(tg.get_updates(timeout=5))
    await emu.wait_for(lambda: state.poll_generation == 3)
    async with telegram.Bot(TOKEN, base_url=emu.base_url) as other:
        assert await other.get_updates() == ()
    with pytest.raises(Conflict):
        await asyncio.wait_for(older, 5)


async def test_webhook_blocks_get_updates(tg: telegram.Bot) -> None:
    await tg.set_webhook("https://example.com/hook")
    assert (await tg.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await tg.get_updates()
    await tg.delete_webhook(drop_pending_updates=True)
    assert await tg.get_updates() == ()


async def test_stop_releases_pending_long_polls_promptly() -> None:
    emulator = Emulator()
    await emulator.start()
    emulator.add_bot(TOKEN)
    async with httpx.AsyncClient(base_url=f"{emulator.base_url}{TOKEN}/") as client:
        poll = asyncio.create_task(client.post("getUpdates", json={"timeout": 30}))
        await emulator.wait_for(lambda: any(r.method == "getUpdates" for r in emulator.requests))
        await asyncio.wait_for(emulator.stop(), 3)
        response = await asyncio.wait_for(poll, 3)
    assert response.json() == {"ok": True, "result": []}


# -- sendMessage and formatting ------------------------------------------------------------------


async def test_send_html_stores_plain_text_entities_and_raw_html(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    html = '<b>ILO</b> &amp; <a href="https://www.ilo.org/x">child labour</a> 😀 <i>now</i>'
    message = await tg.send_message(alice["id"], html, parse_mode="HTML")
    assert message.text == "ILO & child labour 😀 now"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 3),
        ("text_link", 6, 12),
        ("italic", 22, 3),  # the emoji is two UTF-16 code units
    ]
    stored = emu.sent(alice["id"])[0]
    assert stored["html"] == html and stored["text"] == message.text
    assert stored["entities"][1]["url"] == "https://www.ilo.org/x"
    assert stored["from"]["id"] == 123456 and "reply_markup" not in stored


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ],
)
async def test_bad_html_rejected(
    raw: httpx.AsyncClient, tg: telegram.Bot, alice: dict[str, Any], html: str, description: str
) -> None:
    response = await raw.post(
        "sendMessage", json={"chat_id": alice["id"], "text": html, "parse_mode": "HTML"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": f"Bad Request: can't parse entities: {description}",
    }
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await tg.send_message(alice["id"], html, parse_mode="HTML")
    # Without parse_mode the same text is fine: it is just text.
    assert (await tg.send_message(alice["id"], html)).text == html


async def test_length_limit_counts_text_after_entities(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    await tg.send_message(alice["id"], "a" * 4096)
    await tg.send_message(alice["id"], "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")
    await tg.send_message(alice["id"], "😀" * 4096)  # characters, not UTF-16 units
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await tg.send_message(alice["id"], "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await tg.send_message(alice["id"], "<i>" + "b" * 4097 + "</i>", parse_mode="HTML")
    assert len(emu.sent(alice["id"])) == 3


async def test_inline_keyboard_validation(
    raw: httpx.AsyncClient, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    await tg.send_message(alice["id"], "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await tg.send_message(alice["id"], "too long", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await tg.send_message(alice["id"], "multi-byte", reply_markup=keyboard("é" * 33))
    bad_url = {"inline_keyboard": [[{"text": "site", "url": "not a url"}]]}
    response = await raw.post(
        "sendMessage", json={"chat_id": alice["id"], "text": "x", "reply_markup": bad_url}
    )
    assert response.json()["description"] == "Bad Request: BUTTON_URL_INVALID"
    text_only = {"inline_keyboard": [[{"text": "nothing"}]]}
    response = await raw.post(
        "sendMessage", json={"chat_id": alice["id"], "text": "x", "reply_markup": text_only}
    )
    assert "Text buttons are unallowed" in response.json()["description"]
    url_button = telegram.InlineKeyboardButton("Read", url="https://www.ilo.org/")
    message = await tg.send_message(
        alice["id"], "link", reply_markup=telegram.InlineKeyboardMarkup([[url_button]])
    )
    assert message.reply_markup is not None


async def test_forum_topics(emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]) -> None:
    forum = emu.add_group("Forum", forum=True, members={alice["id"]: "creator"})
    plain = emu.add_group("Plain", members={alice["id"]: "creator"})
    message = await tg.send_message(forum["id"], "in topic", message_thread_id=7)
    assert (message.message_thread_id, message.is_topic_message) == (7, True)
    assert message.chat.is_forum is True
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await tg.send_message(plain["id"], "no topics here", message_thread_id=7)
    posted = emu.send_message(forum, "/latest", from_user=alice, message_thread_id=7)
    assert posted["is_topic_message"] is True and posted["message_thread_id"] == 7
    update = (await tg.get_updates())[-1]
    assert update.message is not None and update.message.message_thread_id == 7


async def test_reply_parameters(emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]) -> None:
    question = emu.send_message(alice, "/search ilo")
    answer = await tg.send_message(alice["id"], "found", reply_to_message_id=question["message_id"])
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "/search ilo"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await tg.send_message(alice["id"], "x", reply_to_message_id=9999)


# -- errors Telegram gives for chats -----------------------------------------------------------


async def test_blocked_deleted_and_kicked_chats(
    emu: Emulator, tg: telegram.Bot, raw: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    bob = emu.add_user("Bob")
    emu.block_bot(bob)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await tg.send_message(bob["id"], "hello")
    response = await raw.post("sendMessage", json={"chat_id": bob["id"], "text": "x"})
    assert response.status_code == 403
    assert response.json()["description"] == "Forbidden: bot was blocked by the user"
    blocked = (await tg.get_updates())[-1].my_chat_member
    assert blocked is not None and blocked.new_chat_member.status == ChatMemberStatus.BANNED
    emu.send_message(bob, "/start")  # writing to the bot again unblocks it
    await tg.send_message(bob["id"], "welcome back")

    group = emu.add_group("Group", members={alice["id"]: "creator"})
    await tg.send_message(group["id"], "hi all")
    emu.set_bot_status(group, "kicked")
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the group chat"):
        await tg.send_message(group["id"], "again")

    emu.delete_chat(alice["id"])
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await tg.send_message(alice["id"], "gone")


async def test_group_migration(emu: Emulator, tg: telegram.Bot, raw: httpx.AsyncClient) -> None:
    owner = emu.add_user("Owner")
    group = emu.add_group("Old", members={owner["id"]: "creator"})
    new_id = emu.migrate_group(group["id"])
    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as caught:
        await tg.send_message(group["id"], "hi")
    assert caught.value.new_chat_id == new_id
    response = await raw.post("sendMessage", json={"chat_id": group["id"], "text": "x"})
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": new_id},
    }
    message = await tg.send_message(new_id, "hi again")
    assert message.chat.type == "supergroup"
    member = await tg.get_chat_member(new_id, owner["id"])
    assert member.status == ChatMemberStatus.OWNER
    notices = [u.message for u in await tg.get_updates() if u.message]
    assert [(m.migrate_to_chat_id, m.migrate_from_chat_id) for m in notices] == [
        (new_id, None),
        (None, group["id"]),
    ]


async def test_channel_posting_rights(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    channel = emu.add_channel("ILO News", username="ilonews", admins=[alice["id"]])
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the channel chat"):
        await tg.send_message(channel["id"], "post")
    emu.set_member(channel["id"], emu.bot["id"], "member")
    with pytest.raises(BadRequest, match=r"(?i)need administrator rights in the channel chat"):
        await tg.send_message(channel["id"], "post")
    emu.set_member(channel["id"], emu.bot["id"], "administrator", can_post_messages=False)
    with pytest.raises(BadRequest, match=r"(?i)need administrator rights"):
        await tg.send_message(channel["id"], "post")
    emu.set_member(channel["id"], emu.bot["id"], "administrator", can_post_messages=True)
    post = await tg.send_message("@ilonews", "<b>posted</b>", parse_mode="HTML")
    assert post.from_user is None
    assert post.sender_chat is not None and post.sender_chat.id == channel["id"]
    assert emu.sent(channel["id"])[0]["text"] == "posted"

    user_post = emu.send_message(channel, "/subscribe labour")
    assert "from" not in user_post and user_post["sender_chat"]["id"] == channel["id"]
    update = (await tg.get_updates())[-1]
    assert update.channel_post is not None and update.channel_post.text == "/subscribe labour"


async def test_chat_member_shapes_parse_in_ptb(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    bob, carol, dave, erin = (emu.add_user(n) for n in ("Bob", "Carol", "Dave", "Erin"))
    channel = emu.add_channel("C", admins=[alice["id"], bob["id"], emu.bot["id"]])
    group = emu.add_group(
        "G",
        supergroup=True,
        members={alice["id"]: "creator", bob["id"]: "administrator", carol["id"]: "member"},
    )
    emu.set_member(group["id"], dave["id"], "kicked")
    emu.set_member(group["id"], erin["id"], "restricted", can_send_messages=False)

    owner = await tg.get_chat_member(channel["id"], alice["id"])
    assert isinstance(owner, telegram.ChatMemberOwner)
    admin = await tg.get_chat_member(channel["id"], bob["id"])
    assert isinstance(admin, telegram.ChatMemberAdministrator)
    assert admin.can_post_messages is True and admin.can_promote_members is False
    me = await tg.get_chat_member(channel["id"], emu.bot["id"])
    assert isinstance(me, telegram.ChatMemberAdministrator) and me.can_post_messages
    assert isinstance(await tg.get_chat_member(channel["id"], carol["id"]), telegram.ChatMemberLeft)

    assert isinstance(await tg.get_chat_member(group["id"], carol["id"]), telegram.ChatMemberMember)
    banned = await tg.get_chat_member(group["id"], dave["id"])
    assert isinstance(banned, telegram.ChatMemberBanned)
    restricted = await tg.get_chat_member(group["id"], erin["id"])
    assert isinstance(restricted, telegram.ChatMemberRestricted)
    assert restricted.can_send_messages is False
    group_admin = await tg.get_chat_member(group["id"], bob["id"])
    assert isinstance(group_admin, telegram.ChatMemberAdministrator)
    assert group_admin.can_manage_topics is True and group_admin.can_post_messages is None
    admins = await tg.get_chat_administrators(group["id"])
    assert {m.user.id for m in admins} == {alice["id"], bob["id"]}
    assert await tg.get_chat_member_count(group["id"]) == 5  # + erin (restricted) and the bot

    hidden = emu.add_channel("Hidden", admins=[alice["id"]])
    with pytest.raises(BadRequest, match=r"(?i)member list is inaccessible"):
        await tg.get_chat_member(hidden["id"], alice["id"])
    assert isinstance(
        await tg.get_chat_member(hidden["id"], emu.bot["id"]), telegram.ChatMemberLeft
    )
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await tg.get_chat_member(group["id"], 5)


async def test_get_chat(emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]) -> None:
    emu.add_channel("Public", username="public_news", admins=[alice["id"]])
    private_channel = emu.add_channel("Private", admins=[alice["id"]])
    info = await tg.get_chat("@public_news")
    assert (info.title, info.type) == ("Public", "channel")
    assert (await tg.get_chat(alice["id"])).first_name == "Alice"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await tg.get_chat(private_channel["id"])
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await tg.get_chat("@nobody_here")


async def test_bot_added_and_leaving(emu: Emulator, tg: telegram.Bot) -> None:
    owner = emu.add_user("Owner")
    channel = emu.add_channel("C", admins=[owner["id"]])
    changed = emu.set_bot_status(channel, "administrator", can_post_messages=True)
    assert changed["from"]["id"] == owner["id"]
    update = (await tg.get_updates())[-1].my_chat_member
    assert update is not None and update.chat.id == channel["id"]
    assert update.old_chat_member.status == ChatMemberStatus.LEFT
    assert update.new_chat_member.status == ChatMemberStatus.ADMINISTRATOR
    await tg.send_message(channel["id"], "now I can post")
    assert await tg.leave_chat(channel["id"]) is True
    with pytest.raises(Forbidden, match=r"(?i)not a member"):
        await tg.send_message(channel["id"], "not any more")


# -- faults and flood limits ---------------------------------------------------------------------


async def test_injected_faults_map_to_ptb_errors(
    emu: Emulator, tg: telegram.Bot, raw: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    emu.faults.add("sendMessage", error=429, retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3 seconds"):
        await tg.send_message(alice["id"], "x")

    emu.faults.add("sendMessage", chat_id=alice["id"], error=502)
    response = await raw.post("sendMessage", json={"chat_id": alice["id"], "text": "x"})
    assert response.status_code == 502
    assert response.json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    emu.faults.add(times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await tg.send_message(alice["id"], "x")
    emu.faults.add(error=403, description="Forbidden: user is deactivated")
    with pytest.raises(Forbidden, match=r"(?i)user is deactivated"):
        await tg.send_message(alice["id"], "x")
    emu.faults.add(chat_id=-1, error=500)  # another chat: no effect here
    await tg.send_message(alice["id"], "finally")
    assert [m["text"] for m in emu.sent(alice["id"])] == ["finally"]
    assert emu.count_429 == 1 and emu.stats.flood_429 == 0
    assert len(emu.faults.fired) == 5


async def test_delay_fault_times_out_but_delivers(emu: Emulator, alice: dict[str, Any]) -> None:
    request = HTTPXRequest(read_timeout=0.2)
    async with telegram.Bot(TOKEN, base_url=emu.base_url, request=request) as slow:
        emu.faults.add("sendMessage", delay=1.0)
        with pytest.raises(TimedOut):
            await slow.send_message(alice["id"], "maybe")
        # The realistic "sent twice" case: the client timed out, the message was delivered.
        assert [m["text"] for m in emu.sent(alice["id"])] == ["maybe"]
        emu.faults.add("sendMessage", delay=1.0, error=500)
        with pytest.raises(TimedOut):
            await slow.send_message(alice["id"], "lost")
        assert len(emu.sent(alice["id"])) == 1


async def test_flood_limits_refuse_bursts_with_retry_after(alice_limits: Emulator) -> None:
    emu = alice_limits
    user = emu.add_user("Fast")
    async with telegram.Bot(TOKEN, base_url=emu.base_url) as tg:
        await tg.send_message(user["id"], "1")
        await tg.send_message(user["id"], "2")
        with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
            await tg.send_message(user["id"], "3")
    response_body = emu.requests[-1].response
    assert response_body["error_code"] == 429
    assert response_body["description"].startswith("Too Many Requests: retry after ")
    assert response_body["parameters"]["retry_after"] >= 1
    assert emu.count_429 == emu.stats.flood_429 == 1
    assert len(emu.sent(user["id"])) == 2


@pytest.fixture
async def alice_limits() -> AsyncIterator[Emulator]:
    async with Emulator(limits=FloodLimits(burst=2)) as emulator:
        emulator.add_bot(TOKEN)
        yield emulator


async def test_flood_limits_respected_means_no_429() -> None:
    limits = FloodLimits(per_second=8, per_chat_per_second=20, per_group_per_minute=1200, burst=1)
    async with Emulator(limits=limits) as emu:
        emu.add_bot(TOKEN)
        users = [emu.add_user(f"U{n}") for n in range(10)]
        async with telegram.Bot(TOKEN, base_url=emu.base_url) as tg:
            for _ in range(3):  # one chat, paced below 20/s
                await tg.send_message(users[0]["id"], "paced")
                await asyncio.sleep(0.07)  # the pace itself: below 20 a second
            assert emu.count_429 == 0
            # Ten different chats at once: beyond 8/s overall.
            results = await asyncio.gather(
                *(tg.send_message(u["id"], "burst") for u in users), return_exceptions=True
            )
        refused = [r for r in results if isinstance(r, RetryAfter)]
        # At most 8 go through in the same instant (fewer: the paced ones used some up).
        assert len(refused) >= 2 and emu.count_429 == len(refused)


# -- callback and inline queries ----------------------------------------------------------------


async def test_callback_query_round_trip(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    await tg.send_message(alice["id"], "page 1", reply_markup=keyboard("page:2"))
    message = emu.sent(alice["id"])[0]
    with pytest.raises(ValueError, match="no button"):
        emu.press_button(message, "page:3", from_user=alice)
    with pytest.raises(ValueError, match="not a bot message"):
        emu.press_button(emu.send_message(alice, "mine"), "page:2", from_user=alice)
    query = emu.press_button(message, "page:2", from_user=alice)
    update = (await tg.get_updates())[-1]
    assert update.callback_query is not None and update.callback_query.id == query["id"]
    assert update.callback_query.message is not None
    assert update.callback_query.message.text == "page 1"
    assert await tg.answer_callback_query(query["id"], text="Loading") is True
    assert emu.callback_answers[query["id"]]["text"] == "Loading"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await tg.answer_callback_query(query["id"])
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await tg.answer_callback_query("12345")


async def test_inline_answers_validated_and_recorded(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    def article(n: int, text: str = "<b>ok</b>") -> telegram.InlineQueryResultArticle:
        content = telegram.InputTextMessageContent(text, parse_mode="HTML")
        return telegram.InlineQueryResultArticle(str(n), f"Title {n}", content)

    query = emu.inline_query(alice, "child labour", offset="")
    update = (await tg.get_updates())[-1]
    assert update.inline_query is not None and update.inline_query.query == "child labour"
    with pytest.raises(BadRequest, match=r"(?i)results_too_much"):
        await tg.answer_inline_query(query["id"], [article(n) for n in range(51)])
    with pytest.raises(BadRequest, match=r"(?i)result_id_duplicate"):
        await tg.answer_inline_query(query["id"], [article(1), article(1)])
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await tg.answer_inline_query(query["id"], [article(1, "<b>broken")])
    with pytest.raises(BadRequest, match=r"(?i)next_offset_invalid"):
        await tg.answer_inline_query(query["id"], [article(1)], next_offset="9" * 65)
    assert await tg.answer_inline_query(query["id"], [article(1), article(2)], next_offset="20")
    answer = emu.inline_answers[query["id"]]
    assert [r["id"] for r in answer["results"]] == ["1", "2"]
    assert answer["next_offset"] == "20"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await tg.answer_inline_query(query["id"], [article(3)])


# -- edits, deletes, commands ------------------------------------------------------------------


async def test_edit_and_delete(emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]) -> None:
    sent = await tg.send_message(
        alice["id"], "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard("a")
    )
    stored = emu.sent(alice["id"])[0]
    edited = await tg.edit_message_text(
        "<i>v2</i>", alice["id"], sent.message_id, parse_mode="HTML", reply_markup=keyboard("b")
    )
    assert isinstance(edited, telegram.Message) and edited.text == "v2"
    assert stored["text"] == "v2" and stored["html"] == "<i>v2</i>"  # updated in place
    assert stored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await tg.edit_message_text(
            "<i>v2</i>", alice["id"], sent.message_id, parse_mode="HTML", reply_markup=keyboard("b")
        )
    await tg.edit_message_text("v3", alice["id"], sent.message_id)
    assert "reply_markup" not in stored  # an edit without a keyboard drops it, as on Telegram
    await tg.edit_message_reply_markup(alice["id"], sent.message_id, reply_markup=keyboard("c"))
    assert stored["reply_markup"]["inline_keyboard"][0][0]["text"] == "c"
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await tg.edit_message_text("x", alice["id"], 999)
    user_message = emu.send_message(alice, "hello")
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await tg.edit_message_text("x", alice["id"], user_message["message_id"])
    assert await tg.delete_message(alice["id"], sent.message_id) is True
    assert emu.sent(alice["id"]) == [] and emu.deleted[0]["message_id"] == sent.message_id
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await tg.delete_message(alice["id"], sent.message_id)


async def test_commands_validated_and_scoped(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    commands = [("latest", "Newest releases"), ("search", "Search releases")]
    assert await tg.set_my_commands(commands)
    group_scope = telegram.BotCommandScopeAllGroupChats()
    assert await tg.set_my_commands([("subscribe", "Follow a topic")], scope=group_scope)
    assert [c.command for c in await tg.get_my_commands()] == ["latest", "search"]
    assert [c.command for c in await tg.get_my_commands(scope=group_scope)] == ["subscribe"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await tg.set_my_commands([("Bad-Name", "x")])
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await tg.set_my_commands([("x" * 33, "too long")])
    with pytest.raises(BadRequest, match=r"(?i)description_invalid"):
        await tg.set_my_commands([("ok", "d" * 257)])
    assert await tg.delete_my_commands(scope=group_scope)
    assert await tg.get_my_commands(scope=group_scope) == ()
    chat_scope = telegram.BotCommandScopeChat(alice["id"])
    assert await tg.set_my_commands([("stop", "Stop")], scope=chat_scope)
    assert await tg.set_my_description("Press releases")
    assert await tg.set_my_short_description("News")
    calls = [r for r in emu.requests if r.method == "setMyCommands" and r.ok]
    assert calls[0].params["commands"] == [
        {"command": "latest", "description": "Newest releases"},
        {"command": "search", "description": "Search releases"},
    ]


async def test_wait_for_messages_reports_what_was_sent(
    emu: Emulator, tg: telegram.Bot, alice: dict[str, Any]
) -> None:
    await tg.send_message(alice["id"], "only one")
    assert len(await emu.wait_for_messages(alice["id"], 1, timeout=1)) == 1
    with pytest.raises(AssertionError, match="got 1: \\['only one'\\]"):
        await emu.wait_for_messages(alice["id"], 2, timeout=0.2)
