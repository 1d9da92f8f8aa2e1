"""The bot itself: getMe, its command lists, its description, short description and name."""

from __future__ import annotations

import json
import re

from bot.emulator.errors import bad_request
from bot.emulator.methods.api import BotApi, api_method
from bot.emulator.methods.params import JSON, get_int, get_json, get_str
from bot.emulator.model import BotState

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SCOPE_TYPES = frozenset(
    {
        "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
        "chat_administrators", "chat_member",
    }
)  # fmt: skip
#: The bot's texts: (setter, getter, parameter, most characters).
_BOT_TEXTS = (
    ("setMyDescription", "getMyDescription", "description", 512),
    ("setMyShortDescription", "getMyShortDescription", "short_description", 120),
    ("setMyName", "getMyName", "name", 64),
)


@api_method("getMe")
def get_me(api: BotApi, bot: BotState, params: JSON) -> JSON:
    """The bot's User."""
    return dict(bot.user)


@api_method("logOut")
def log_out(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Accepted and ignored."""
    return True


@api_method("close")
def close(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Accepted and ignored."""
    return True


def _scope_key(api: BotApi, params: JSON) -> tuple[str, str]:
    scope = get_json(params, "scope", "BotCommandScope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    key: JSON = {"type": scope["type"]}
    if scope["type"] in {"chat", "chat_administrators", "chat_member"}:
        key["chat_id"] = api.resolve_chat(scope).id
    if scope["type"] == "chat_member":
        user_id = get_int(scope, "user_id", required=True)
        if user_id not in api.world.users:
            raise bad_request("user not found")
        key["user_id"] = user_id
    language = get_str(params, "language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return json.dumps(key, sort_keys=True), language


@api_method("setMyCommands")
def set_my_commands(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Validate and store the command list for a scope and language."""
    commands = get_json(params, "commands", "commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    cleaned: list[JSON] = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = command.get("command")
        description = command.get("description")
        if not isinstance(name, str) or not _COMMAND.match(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": name, "description": description})
    key = _scope_key(api, params)
    if cleaned:
        bot.commands[key] = cleaned
    else:
        bot.commands.pop(key, None)
    return True


@api_method("getMyCommands")
def get_my_commands(api: BotApi, bot: BotState, params: JSON) -> list[JSON]:
    """The command list for a scope and language ([] when none was set)."""
    return [dict(c) for c in bot.commands.get(_scope_key(api, params), [])]


@api_method("deleteMyCommands")
def delete_my_commands(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Forget the command list for a scope and language."""
    bot.commands.pop(_scope_key(api, params), None)
    return True


@api_method("setChatMenuButton")
def set_chat_menu_button(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Accepted and ignored."""
    return True


def _register_bot_text(setter: str, getter: str, name: str, limit: int) -> None:
    """Register the setter and getter of one of the bot's texts (per language code); the
    name, when never set, is the bot's first name."""

    @api_method(setter)
    def set_text(api: BotApi, bot: BotState, params: JSON) -> bool:
        value = get_str(params, name) or ""
        if len(value) > limit:
            raise bad_request(f"{name.upper()}_INVALID")
        language = get_str(params, "language_code") or ""
        bot.texts[f"{name}:{language}"] = value
        return True

    @api_method(getter)
    def get_text(api: BotApi, bot: BotState, params: JSON) -> JSON:
        language = get_str(params, "language_code") or ""
        unset = bot.user["first_name"] if name == "name" else ""
        return {name: bot.texts.get(f"{name}:{language}", unset)}


for _texts in _BOT_TEXTS:
    _register_bot_text(*_texts)
