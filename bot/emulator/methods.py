"""The Bot API methods the emulator answers, with Telegram's validation and error messages.

Each method takes the bot that called it and its decoded parameters, and returns the ``result``
or raises ApiError. Methods are registered by their Bot API name; lookups are case-insensitive,
as on Telegram.
"""

from __future__ import annotations

import inspect
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import ApiError, bad_request, forbidden
from bot.emulator.html import HtmlParseError, normalize_url, parse_html
from bot.emulator.limits import FloodLimiter, FloodLimits
from bot.emulator.state import BotState, Chat, Member, World, api_copy, member_dict

__all__ = ["MAX_MESSAGE_LENGTH", "BotApi", "EmulatorStats"]

JSON = dict[str, Any]
Method = Callable[["BotApi", BotState, JSON], Any]

MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_POLL_TIMEOUT = 50.0

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_BUTTON_ACTIONS = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }
)  # fmt: skip
_SCOPE_TYPES = frozenset(
    {
        "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
        "chat_administrators", "chat_member",
    }
)  # fmt: skip
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_BUTTON_ERROR = "can't parse inline keyboard button: "
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")

_METHODS: dict[str, tuple[str, Method]] = {}


def api_method(name: str) -> Callable[[Method], Method]:
    """Register a BotApi method under its Bot API name."""

    def register(function: Method) -> Method:
        _METHODS[name.lower()] = (name, function)
        return function

    return register


@dataclass
class EmulatorStats:
    """Counters over an emulator's life, for tests and the benchmark."""

    requests: int = 0
    errors: int = 0
    count_429: int = 0  # every 429 answered, injected or from flood limits
    flood_429: int = 0  # 429s from flood limits only
    messages_sent: int = 0
    paid_broadcasts: int = 0  # messages sent with allow_paid_broadcast
    messages_edited: int = 0
    abandoned: int = 0  # calls whose client hung up before the answer
    by_method: Counter[str] = field(default_factory=Counter)


# -- parameter helpers -------------------------------------------------------------------------


def _get_str(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a String")
    return value


def _get_int(params: JSON, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is empty")
        return None
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise bad_request(f"invalid {name} specified")


def _get_float(params: JSON, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _get_bool(params: JSON, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _get_json(params: JSON, name: str, what: str) -> Any:
    """A parameter that is a JSON object or array (sent JSON-encoded in forms)."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None
    return value


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class BotApi:
    """The Bot API over a World: dispatch by method name, validation, flood limits."""

    def __init__(self, world: World, limits: FloodLimits | None, stats: EmulatorStats) -> None:
        self.world = world
        self.limits = limits
        self.stats = stats
        self._limiters: dict[str, FloodLimiter] = {}

    @staticmethod
    def canonical(method: str) -> str | None:
        """The Bot API spelling of ``method`` if the emulator implements it, else None."""
        entry = _METHODS.get(method.lower())
        return entry[0] if entry else None

    async def call(self, bot: BotState, method: str, params: JSON) -> Any:
        """Run one method; returns its result or raises ApiError."""
        entry = _METHODS.get(method.lower())
        if entry is None:
            raise ApiError(404, "Not Found")
        result = entry[1](self, bot, params)
        if inspect.isawaitable(result):
            result = await result
        return result

    def chat_id_of(self, params: JSON) -> int | None:
        """The id of the chat a call is about, for matching faults (None if it names none)."""
        value = params.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            chat = self.world.find_username(value)
            return chat.id if chat else None
        try:
            return int(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            return None

    # -- shared checks ---------------------------------------------------------------------

    def resolve_chat(self, params: JSON, name: str = "chat_id") -> Chat:
        """The chat a call names by id or ``@username``, with Telegram's errors."""
        value = params.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        chat: Chat | None = None
        if isinstance(value, str) and value.strip().startswith("@"):
            chat = self.world.find_username(value.strip())
        else:
            try:
                chat_id = _get_int(params, name)
            except ApiError:
                raise bad_request("chat not found") from None
            assert chat_id is not None
            chat = self.world.chats.get(chat_id)
            if chat is None and chat_id in self.world.users:
                chat = self.world._private(chat_id)
        if chat is None or chat.deleted:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def check_can_send(self, bot: BotState, chat: Chat) -> None:
        """Raise Telegram's error when the bot may not post in ``chat``."""
        member = self.world.member(chat, bot.id)
        if chat.type == "private":
            if self.world.users[chat.id].get("is_bot"):
                raise forbidden("bot can't send messages to bots")
            if member.status == "kicked":
                raise forbidden("bot was blocked by the user")
            return
        kind = {"group": "group chat", "supergroup": "supergroup chat"}.get(chat.type)
        if kind is None:  # channel
            if member.status == "kicked":
                raise forbidden("bot was kicked from the channel chat")
            if not member.active:
                raise forbidden("bot is not a member of the channel chat")
            if member.status != "creator" and not (
                member.status == "administrator" and member.right("can_post_messages")
            ):
                raise bad_request("need administrator rights in the channel chat")
            return
        if member.status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if not member.active:
            raise forbidden(f"bot is not a member of the {kind}")
        if member.status == "restricted" and not member.right("can_send_messages"):
            raise bad_request("not enough rights to send text messages to the chat")

    def check_members_visible(self, bot: BotState, chat: Chat, user_id: int | None) -> None:
        """Channels hide their member list from bots that are not admins there."""
        if chat.type != "channel" or user_id == bot.id:
            return
        if self.world.member(chat, bot.id).status not in {"creator", "administrator"}:
            raise bad_request("member list is inaccessible")

    def format_text(
        self,
        text: str | None,
        parse_mode: str | None,
        entities: Any,
        *,
        empty: str = "message text is empty",
        too_long: str = "message is too long",
    ) -> tuple[str, list[JSON]]:
        """Parse a message text as Telegram would: (plain text, entities).

        The 4096 limit counts Unicode characters (code points) of the text after entity
        parsing, as TDLib's ``utf8_length`` check for bots does.
        """
        if text is None or text == "":
            raise bad_request(empty)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request("strings must be encoded in UTF-8") from None
        found: list[JSON] = []
        mode = (parse_mode or "").strip().lower()
        if mode == "html":
            try:
                parsed = parse_html(text)
            except HtmlParseError as err:
                raise bad_request(f"can't parse entities: {err}") from None
            plain, found = parsed.text, parsed.entities
        elif mode in {"", "markdown", "markdownv2"}:
            # Markdown is passed through unparsed: the bot under test uses HTML.
            plain = text
            if mode == "" and entities is not None:
                if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
                    raise bad_request("can't parse entities JSON object")
                found = [dict(e) for e in entities]
        else:
            raise bad_request("unsupported parse_mode")
        for entity in found:
            if entity.get("type") == "text_mention":
                user = self.world.users.get(int(entity.get("user", {}).get("id", 0)))
                if user is not None:
                    entity["user"] = user
        found = [e for e in found if e.get("type") != "text_mention" or "first_name" in e["user"]]
        if not plain.strip():
            raise bad_request(empty)
        if len(plain) > MAX_MESSAGE_LENGTH:
            raise bad_request(too_long)
        return plain, found

    def reply_markup(self, params: JSON) -> JSON | None:
        """Validate ``reply_markup``; returns it if it is an inline keyboard (the part Telegram
        echoes back in the message), else None."""
        markup = _get_json(params, "reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if not {"keyboard", "remove_keyboard", "force_reply"} & set(markup):
                raise bad_request("can't parse reply keyboard markup JSON object")
            return None
        keyboard = markup["inline_keyboard"]
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "inline_keyboard" of the '
                "InlineKeyboardMarkup must be an Array of Arrays"
            )
        for row in keyboard:
            for button in row:
                self._check_button(button)
        return {"inline_keyboard": keyboard}

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise bad_request(f"{_BUTTON_ERROR}InlineKeyboardButton must be an Object")
        if not isinstance(button.get("text"), str):
            raise bad_request(f'{_BUTTON_ERROR}Field "text" must be of type String')
        if not _BUTTON_ACTIONS & set(button):
            raise bad_request(f"{_BUTTON_ERROR}Text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= _utf8_len(data) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or normalize_url(url) is None:
                raise bad_request("BUTTON_URL_INVALID")

    def flood_check(self, bot: BotState, chat: Chat, *, paid: bool = False) -> None:
        """Apply the flood limits (if any) to one message to ``chat``; 429 when exceeded.

        ``paid``: the message has ``allow_paid_broadcast`` (the 1000/s overall limit)."""
        if self.limits is None:
            return
        limiter = self._limiters.get(bot.token)
        if limiter is None:
            limiter = self._limiters[bot.token] = FloodLimiter(self.limits)
        retry_after = limiter.acquire(chat.id, is_group=chat.type != "private", paid=paid)
        if retry_after is not None:
            self.stats.flood_429 += 1
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def find_message(self, chat: Chat, message_id: int, missing: str) -> JSON:
        """A stored message in ``chat``; 400 ``missing`` if there is none."""
        message = self.world.messages.get((chat.id, message_id))
        if message is None:
            raise bad_request(missing)
        return message

    def own_message(self, bot: BotState, chat: Chat, params: JSON, missing: str) -> JSON:
        """The bot's own message named by ``message_id`` (for edits)."""
        if params.get("inline_message_id") and params.get("chat_id") is None:
            raise bad_request("MESSAGE_ID_INVALID")
        message_id = _get_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self.find_message(chat, message_id, missing)
        sender = message.get("from") or {}
        mine = self.world.is_bot_message(chat.id, message_id) and (
            sender.get("id") == bot.id or (chat.type == "channel" and "from" not in message)
        )
        if not mine:
            raise bad_request("message can't be edited")
        return message

    # -- getting updates -------------------------------------------------------------------

    @api_method("getUpdates")
    async def get_updates(self, bot: BotState, params: JSON) -> list[JSON]:
        """Long polling: confirm by offset, filter by allowed_updates, wait up to timeout."""
        if bot.webhook_url:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        offset = _get_int(params, "offset") or 0
        limit = _get_int(params, "limit") or 100
        limit = max(1, min(limit, 100))
        timeout = max(0.0, min(_get_float(params, "timeout") or 0.0, MAX_POLL_TIMEOUT))
        allowed = _get_json(params, "allowed_updates", "allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise bad_request("can't parse allowed updates JSON object")
            bot.allowed_updates = list(allowed)
        # A newer poll for the same token ends the older one with 409, as on Telegram.
        bot.poll_generation += 1
        generation = bot.poll_generation
        self.world.notify()
        if offset > 0:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        elif offset < 0:
            bot.updates = bot.updates[offset:]
        loop_time = time.monotonic
        deadline = loop_time() + timeout
        while True:
            if bot.poll_generation != generation:
                raise ApiError(409, _CONFLICT_POLL)
            if bot.webhook_url:
                raise ApiError(409, _CONFLICT_WEBHOOK)
            # Types outside allowed_updates are never delivered: drop them from the queue.
            bot.updates = [u for u in bot.updates if bot.allows(_update_kind(u))]
            remaining = deadline - loop_time()
            if bot.updates or self.world.stopping or remaining <= 0:
                return [dict(u) for u in bot.updates[:limit]]
            await self.world.wait_change(remaining)

    @api_method("setWebhook")
    def set_webhook(self, bot: BotState, params: JSON) -> bool:
        """Set (or with an empty url remove) the webhook; updates are then pushed to it, one
        at a time and in order (see ``webhooks.py``), and getUpdates answers 409."""
        url = _get_str(params, "url") or ""
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _get_str(params, "secret_token") or ""
        if secret and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters"
                              if len(secret) <= 256 else "secret token is too long")
        max_connections = _get_int(params, "max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: invalid max_connections specified")
        allowed = _get_json(params, "allowed_updates", "allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise bad_request("can't parse allowed updates JSON object")
            bot.allowed_updates = list(allowed)  # else the previous setting stays, as on Telegram
        if url != bot.webhook_url:
            bot.webhook_last_error, bot.webhook_last_error_date = "", 0
        bot.webhook_url, bot.webhook_secret = url, secret if url else ""
        if max_connections is not None:
            bot.webhook_max_connections = max_connections
        if _get_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        self.world.notify()  # a long poll still open ends with 409, pushes begin
        return True

    @api_method("deleteWebhook")
    def delete_webhook(self, bot: BotState, params: JSON) -> bool:
        """Forget the webhook; optionally drop pending updates."""
        bot.webhook_url = bot.webhook_secret = bot.webhook_last_error = ""
        bot.webhook_last_error_date = 0
        if _get_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        self.world.notify()
        return True

    @api_method("getWebhookInfo")
    def get_webhook_info(self, bot: BotState, params: JSON) -> JSON:
        """The WebhookInfo object."""
        bot.updates = [u for u in bot.updates if bot.allows(_update_kind(u))]
        info: JSON = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook_url:
            info["max_connections"] = bot.webhook_max_connections
            if bot.allowed_updates is not None:
                info["allowed_updates"] = list(bot.allowed_updates)
        if bot.webhook_last_error:
            info["last_error_date"] = bot.webhook_last_error_date
            info["last_error_message"] = bot.webhook_last_error
        return info

    # -- the bot itself --------------------------------------------------------------------

    @api_method("getMe")
    def get_me(self, bot: BotState, params: JSON) -> JSON:
        """The bot's User."""
        return dict(bot.user)

    @api_method("logOut")
    def log_out(self, bot: BotState, params: JSON) -> bool:
        """Accepted and ignored."""
        return True

    @api_method("close")
    def close(self, bot: BotState, params: JSON) -> bool:
        """Accepted and ignored."""
        return True

    def _scope_key(self, params: JSON) -> tuple[str, str]:
        scope = _get_json(params, "scope", "BotCommandScope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        key: JSON = {"type": scope["type"]}
        if scope["type"] in {"chat", "chat_administrators", "chat_member"}:
            key["chat_id"] = self.resolve_chat(scope).id
        if scope["type"] == "chat_member":
            user_id = _get_int(scope, "user_id", required=True)
            if user_id not in self.world.users:
                raise bad_request("user not found")
            key["user_id"] = user_id
        language = _get_str(params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return json.dumps(key, sort_keys=True), language

    @api_method("setMyCommands")
    def set_my_commands(self, bot: BotState, params: JSON) -> bool:
        """Validate and store the command list for a scope and language."""
        commands = _get_json(params, "commands", "commands")
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
        key = self._scope_key(params)
        if cleaned:
            bot.commands[key] = cleaned
        else:
            bot.commands.pop(key, None)
        return True

    @api_method("getMyCommands")
    def get_my_commands(self, bot: BotState, params: JSON) -> list[JSON]:
        """The command list for a scope and language ([] when none was set)."""
        return [dict(c) for c in bot.commands.get(self._scope_key(params), [])]

    @api_method("deleteMyCommands")
    def delete_my_commands(self, bot: BotState, params: JSON) -> bool:
        """Forget the command list for a scope and language."""
        bot.commands.pop(self._scope_key(params), None)
        return True

    def _set_text(self, bot: BotState, params: JSON, name: str, limit: int) -> bool:
        value = _get_str(params, name) or ""
        if len(value) > limit:
            raise bad_request(f"{name.upper()}_INVALID")
        language = _get_str(params, "language_code") or ""
        bot.texts[f"{name}:{language}"] = value
        return True

    @api_method("setMyDescription")
    def set_my_description(self, bot: BotState, params: JSON) -> bool:
        """Store the bot's description (0-512 characters)."""
        return self._set_text(bot, params, "description", 512)

    @api_method("getMyDescription")
    def get_my_description(self, bot: BotState, params: JSON) -> JSON:
        """The BotDescription object."""
        language = _get_str(params, "language_code") or ""
        return {"description": bot.texts.get(f"description:{language}", "")}

    @api_method("setMyShortDescription")
    def set_my_short_description(self, bot: BotState, params: JSON) -> bool:
        """Store the bot's short description (0-120 characters)."""
        return self._set_text(bot, params, "short_description", 120)

    @api_method("getMyShortDescription")
    def get_my_short_description(self, bot: BotState, params: JSON) -> JSON:
        """The BotShortDescription object."""
        language = _get_str(params, "language_code") or ""
        return {"short_description": bot.texts.get(f"short_description:{language}", "")}

    @api_method("setMyName")
    def set_my_name(self, bot: BotState, params: JSON) -> bool:
        """Store the bot's name (0-64 characters)."""
        return self._set_text(bot, params, "name", 64)

    @api_method("getMyName")
    def get_my_name(self, bot: BotState, params: JSON) -> JSON:
        """The BotName object."""
        language = _get_str(params, "language_code") or ""
        return {"name": bot.texts.get(f"name:{language}", bot.user["first_name"])}

    @api_method("setChatMenuButton")
    def set_chat_menu_button(self, bot: BotState, params: JSON) -> bool:
        """Accepted and ignored."""
        return True

    # -- messages --------------------------------------------------------------------------

    @api_method("sendMessage")
    def send_message(self, bot: BotState, params: JSON) -> JSON:
        """Validate and deliver a text message; returns the Message."""
        chat = self.resolve_chat(params)
        self.check_can_send(bot, chat)
        html = _get_str(params, "text")
        text, entities = self.format_text(
            html, _get_str(params, "parse_mode"), _get_json(params, "entities", "entities")
        )
        thread_id = _get_int(params, "message_thread_id")
        if thread_id is not None and not (chat.is_forum and thread_id > 0):
            raise bad_request("message thread not found")
        markup = self.reply_markup(params)
        reply_to = self._reply_target(chat, params)
        paid = _get_bool(params, "allow_paid_broadcast")
        self.flood_check(bot, chat, paid=paid)
        message: JSON = {
            "message_id": self.world.next_message_id(chat),
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
        preview = _get_json(params, "link_preview_options", "link preview options")
        if isinstance(preview, dict) and preview:
            message["link_preview_options"] = preview
        elif _get_bool(params, "disable_web_page_preview"):
            message["link_preview_options"] = {"is_disabled": True}
        if markup is not None:
            message["reply_markup"] = markup
        message["html"] = html
        self.world.store_message(message, by_bot=True)
        self.stats.messages_sent += 1
        self.stats.paid_broadcasts += paid
        return api_copy(message)

    def _reply_target(self, chat: Chat, params: JSON) -> JSON | None:
        reply = _get_json(params, "reply_parameters", "reply parameters")
        allow_missing = _get_bool(params, "allow_sending_without_reply")
        message_id: int | None
        if isinstance(reply, dict):
            message_id = _get_int(reply, "message_id", required=True)
            allow_missing = allow_missing or _get_bool(reply, "allow_sending_without_reply")
            if reply.get("chat_id") is not None:
                chat = self.resolve_chat(reply)
        else:
            message_id = _get_int(params, "reply_to_message_id")
        if message_id is None:
            return None
        message = self.world.messages.get((chat.id, message_id))
        if message is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return api_copy(message) if message is not None else None

    @api_method("editMessageText")
    def edit_message_text(self, bot: BotState, params: JSON) -> JSON:
        """Edit the text (and keyboard) of a bot message; returns the edited Message."""
        chat = self.resolve_chat(params)
        message = self.own_message(bot, chat, params, "message to edit not found")
        self.check_can_send(bot, chat)
        html = _get_str(params, "text")
        text, entities = self.format_text(
            html, _get_str(params, "parse_mode"), _get_json(params, "entities", "entities")
        )
        # As on Telegram, an edit without reply_markup removes the inline keyboard.
        markup = self.reply_markup(params)
        if (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise bad_request(_NOT_MODIFIED)
        self.flood_check(bot, chat)
        message["text"] = text
        message["html"] = html
        _set_or_drop(message, "entities", entities)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        self.stats.messages_edited += 1
        self.world.notify()
        return api_copy(message)

    @api_method("editMessageReplyMarkup")
    def edit_message_reply_markup(self, bot: BotState, params: JSON) -> JSON:
        """Replace (or remove) the inline keyboard of a bot message; returns the Message."""
        chat = self.resolve_chat(params)
        message = self.own_message(bot, chat, params, "message to edit not found")
        self.check_can_send(bot, chat)
        markup = self.reply_markup(params)
        if markup == message.get("reply_markup"):
            raise bad_request(_NOT_MODIFIED)
        self.flood_check(bot, chat)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        self.stats.messages_edited += 1
        self.world.notify()
        return api_copy(message)

    @api_method("deleteMessage")
    def delete_message(self, bot: BotState, params: JSON) -> bool:
        """Delete a message: the bot's own, or anyone's where it may delete messages."""
        chat = self.resolve_chat(params)
        message_id = _get_int(params, "message_id", required=True)
        assert message_id is not None
        message = self.find_message(chat, message_id, "message to delete not found")
        own = self.world.is_bot_message(chat.id, message_id)
        may_delete = self.world.member(chat, bot.id).right("can_delete_messages")
        if not own and chat.type != "private" and not may_delete:
            raise bad_request("message can't be deleted")
        if chat.type == "private" and self.world.member(chat, bot.id).status == "kicked":
            raise forbidden("bot was blocked by the user")
        del message
        self.world.remove_message(chat.id, message_id)
        return True

    @api_method("sendChatAction")
    def send_chat_action(self, bot: BotState, params: JSON) -> bool:
        """Accepted where the bot may post."""
        chat = self.resolve_chat(params)
        self.check_can_send(bot, chat)
        if not _get_str(params, "action"):
            raise bad_request("action is empty")
        return True

    # -- callback and inline queries ---------------------------------------------------------

    @api_method("answerCallbackQuery")
    def answer_callback_query(self, bot: BotState, params: JSON) -> bool:
        """Answer a callback query once; unknown or already answered ids are "too old"."""
        query_id = _get_str(params, "callback_query_id")
        if not query_id:
            raise bad_request("callback_query_id is empty")
        if query_id not in self.world.callback_queries or query_id in self.world.callback_answers:
            raise bad_request(_QUERY_TOO_OLD)
        text = _get_str(params, "text") or ""
        if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        self.world.callback_answers[query_id] = dict(params)
        self.world.notify()
        return True

    @api_method("answerInlineQuery")
    def answer_inline_query(self, bot: BotState, params: JSON) -> bool:
        """Validate and record the results for an inline query (kept in inline_answers)."""
        query_id = _get_str(params, "inline_query_id")
        if not query_id:
            raise bad_request("inline_query_id is empty")
        if query_id not in self.world.inline_queries or query_id in self.world.inline_answers:
            raise bad_request(_QUERY_TOO_OLD)
        results = _get_json(params, "results", "inline query results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._check_inline_result(result, seen)
        next_offset = _get_str(params, "next_offset") or ""
        if _utf8_len(next_offset) > 64:
            raise bad_request("NEXT_OFFSET_INVALID")
        answer = dict(params)
        answer["results"] = results
        self.world.inline_answers[query_id] = answer
        self.world.notify()
        return True

    def _check_inline_result(self, result: Any, seen: set[str]) -> None:
        if not isinstance(result, dict) or not isinstance(result.get("type"), str):
            raise bad_request(
                'can\'t parse inline query result: Field "type" must be of type String'
            )
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= _utf8_len(result_id) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result["type"] == "article":
            if not isinstance(result.get("title"), str) or not result["title"]:
                raise bad_request("RESULT_TITLE_EMPTY")
            if not isinstance(result.get("input_message_content"), dict):
                raise bad_request(
                    'can\'t parse inline query result: Field "input_message_content" must be '
                    "of type Object"
                )
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            self.format_text(
                _get_str(content, "message_text"),
                _get_str(content, "parse_mode"),
                content.get("entities"),
                empty="MESSAGE_EMPTY",
                too_long="MESSAGE_TOO_LONG",
            )
        if "reply_markup" in result:
            self.reply_markup(result)

    # -- chats and members -----------------------------------------------------------------

    @api_method("getChat")
    def get_chat(self, bot: BotState, params: JSON) -> JSON:
        """The ChatFullInfo of a chat the bot can see."""
        chat = self.resolve_chat(params)
        member = self.world.member(chat, bot.id)
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
    def get_chat_member(self, bot: BotState, params: JSON) -> JSON:
        """A user's ChatMember object in a chat ("left" when not in it)."""
        chat = self.resolve_chat(params)
        user_id = _get_int(params, "user_id", required=True)
        user = self.world.users.get(user_id) if user_id is not None else None
        if user is None:
            raise bad_request("user not found")
        self.check_members_visible(bot, chat, user_id)
        return member_dict(user, self.world.member(chat, user["id"]), chat.type)

    @api_method("getChatAdministrators")
    def get_chat_administrators(self, bot: BotState, params: JSON) -> list[JSON]:
        """The creator and administrators of a group or channel."""
        chat = self.resolve_chat(params)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        self.check_members_visible(bot, chat, None)
        return [
            member_dict(self.world.users[uid], member, chat.type)
            for uid, member in chat.members.items()
            if member.status in {"creator", "administrator"}
        ]

    @api_method("getChatMemberCount")
    def get_chat_member_count(self, bot: BotState, params: JSON) -> int:
        """How many users are in the chat (the bot included where it is a member)."""
        chat = self.resolve_chat(params)
        if chat.type == "private":
            return 2
        ids = set(chat.members) | {bot.id}
        return sum(1 for uid in ids if self.world.member(chat, uid).active)

    @api_method("leaveChat")
    def leave_chat(self, bot: BotState, params: JSON) -> bool:
        """The bot leaves a group or channel (the bot gets its my_chat_member update)."""
        chat = self.resolve_chat(params)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        old = self.world.member(chat, bot.id)
        if not old.active:
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        chat.members[bot.id] = Member("left")
        self.world.enqueue(
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


def _update_kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _set_or_drop(message: JSON, key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)
