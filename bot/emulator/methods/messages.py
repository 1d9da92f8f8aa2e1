"""Messages: send, edit (text or keyboard), delete, and chat actions."""

from __future__ import annotations

import time
from typing import Any

from bot.emulator.errors import bad_request, forbidden
from bot.emulator.methods.api import BotApi, api_method
from bot.emulator.methods.params import JSON, get_bool, get_int, get_json, get_str
from bot.emulator.model import BotState, Chat, api_copy

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


@api_method("sendMessage")
def send_message(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """Validate and deliver a text message; returns the Message."""
    chat = api.resolve_chat(params)
    api.check_can_send(bot, chat)
    html = get_str(params, "text")
    text, entities = api.format_text(
        html, get_str(params, "parse_mode"), get_json(params, "entities", "entities")
    )
    thread_id = get_int(params, "message_thread_id")
    if thread_id is not None and not (chat.is_forum and thread_id > 0):
        raise bad_request("message thread not found")
    markup = api.reply_markup(params)
    reply_to = _reply_target(api, chat, params)
    paid = get_bool(params, "allow_paid_broadcast")
    api.flood_check(bot, chat, paid=paid)
    message: JSON = {
        "message_id": api.world.next_message_id(chat),
        "date": int(time.time()),
        "chat": chat.to_dict(),
    }
    if chat.type == "channel":
        message["sender_chat"] = chat.to_dict()
    else:
        message["from"] = dict(bot.user)
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
    if reply_to is not None:
        reply_to.pop("reply_to_message", None)
        message["reply_to_message"] = reply_to
    message["text"] = text
    if entities:
        message["entities"] = entities
    preview = get_json(params, "link_preview_options", "link preview options")
    if isinstance(preview, dict) and preview:
        message["link_preview_options"] = preview
    elif get_bool(params, "disable_web_page_preview"):
        message["link_preview_options"] = {"is_disabled": True}
    if markup is not None:
        message["reply_markup"] = markup
    message["html"] = html
    api.world.store_message(message, by_bot=True)
    api.stats.messages_sent += 1
    api.stats.paid_broadcasts += paid
    return api_copy(message)


def _reply_target(api: BotApi, chat: Chat, params: JSON) -> JSON | None:
    reply = get_json(params, "reply_parameters", "reply parameters")
    allow_missing = get_bool(params, "allow_sending_without_reply")
    message_id: int | None
    if isinstance(reply, dict):
        message_id = get_int(reply, "message_id", required=True)
        allow_missing = allow_missing or get_bool(reply, "allow_sending_without_reply")
        if reply.get("chat_id") is not None:
            chat = api.resolve_chat(reply)
    else:
        message_id = get_int(params, "reply_to_message_id")
    if message_id is None:
        return None
    message = api.world.messages.get((chat.id, message_id))
    if message is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return api_copy(message) if message is not None else None


@api_method("editMessageText")
def edit_message_text(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """Edit the text (and keyboard) of a bot message; returns the edited Message."""
    chat, message = _editable(api, bot, params)
    html = get_str(params, "text")
    text, entities = api.format_text(
        html, get_str(params, "parse_mode"), get_json(params, "entities", "entities")
    )
    # As on Telegram, an edit without reply_markup removes the inline keyboard.
    markup = api.reply_markup(params)
    if (
        text == message.get("text")
        and entities == message.get("entities", [])
        and markup == message.get("reply_markup")
    ):
        raise bad_request(_NOT_MODIFIED)
    api.flood_check(bot, chat)
    message["text"] = text
    message["html"] = html
    _set_or_drop(message, "entities", entities)
    _set_or_drop(message, "reply_markup", markup)
    return _edited(api, message)


@api_method("editMessageReplyMarkup")
def edit_message_reply_markup(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """Replace (or remove) the inline keyboard of a bot message; returns the Message."""
    chat, message = _editable(api, bot, params)
    markup = api.reply_markup(params)
    if markup == message.get("reply_markup"):
        raise bad_request(_NOT_MODIFIED)
    api.flood_check(bot, chat)
    _set_or_drop(message, "reply_markup", markup)
    return _edited(api, message)


@api_method("deleteMessage")
def delete_message(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Delete a message: the bot's own, or anyone's where it may delete messages."""
    chat = api.resolve_chat(params)
    message_id = get_int(params, "message_id", required=True)
    assert message_id is not None
    message = api.find_message(chat, message_id, "message to delete not found")
    own = api.world.is_bot_message(chat.id, message_id)
    may_delete = api.world.member(chat, bot.id).right("can_delete_messages")
    if not own and chat.type != "private" and not may_delete:
        raise bad_request("message can't be deleted")
    if chat.type == "private" and api.world.member(chat, bot.id).status == "kicked":
        raise forbidden("bot was blocked by the user")
    del message
    api.world.remove_message(chat.id, message_id)
    return True


@api_method("sendChatAction")
def send_chat_action(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Accepted where the bot may post."""
    chat = api.resolve_chat(params)
    api.check_can_send(bot, chat)
    if not get_str(params, "action"):
        raise bad_request("action is empty")
    return True


def _set_or_drop(message: JSON, key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)


def _editable(api: BotApi, bot: BotState, params: JSON) -> tuple[Chat, JSON]:
    """The chat and the bot's own message an edit names, where the bot may still post."""
    chat = api.resolve_chat(params)
    message = api.own_message(bot, chat, params, "message to edit not found")
    api.check_can_send(bot, chat)
    return chat, message


def _edited(api: BotApi, message: JSON) -> JSON:
    """Finish an edit: stamp it, count it, wake waiters; the Message as the API shows it."""
    message["edit_date"] = int(time.time())
    api.stats.messages_edited += 1
    api.world.notify()
    return api_copy(message)
