"""The core of the emulated Bot API: the method registry, dispatch, and the checks methods
share (which chat, may the bot post there, message text and keyboards, flood limits).

The methods themselves live beside this module, one module per concern; each registers itself
with :func:`api_method` under its Bot API name (lookups are case-insensitive, as on Telegram),
takes the API, the bot that called it and its decoded parameters, and returns the ``result``
or raises ApiError.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import ApiError, bad_request, forbidden
from bot.emulator.html import HtmlParseError, normalize_url, parse_html
from bot.emulator.limits import FloodLimiter, FloodLimits
from bot.emulator.methods.params import JSON, get_int, get_json, utf8_len
from bot.emulator.model import BotState, Chat
from bot.emulator.state import World

__all__ = ["MAX_MESSAGE_LENGTH", "BotApi", "EmulatorStats", "api_method"]

Method = Callable[["BotApi", BotState, JSON], Any]

MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64

_BUTTON_ACTIONS = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }
)  # fmt: skip
_BUTTON_ERROR = "can't parse inline keyboard button: "

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
                chat_id = get_int(params, name)
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
        markup = get_json(params, "reply_markup", "reply keyboard markup")
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
            if not isinstance(data, str) or not 1 <= utf8_len(data) <= MAX_CALLBACK_DATA_BYTES:
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
        message_id = get_int(params, "message_id")
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
