"""The rights check of every command and button that changes a chat's settings, in one place.

Subscriptions, the digest time and the language of a shared chat are its administrators'
business (the rules are in :mod:`bot.permissions`). A command handler is decorated with
:func:`on_target`: the chat it acts on is resolved and the sender's rights checked before it
runs, and a refusal is the reply. A button handler asks :func:`presser_may_manage`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

from telegram import CallbackQuery, Update

from bot.context import NewsbotContext
from bot.handlers.common import Handler, answer_button, command_argument, reply
from bot.permissions import Refusal, Target, may_manage, resolve_target, split_channel_ref


class Rights(Enum):
    """What a command does to the chat it acts on, and so what the sender must be allowed."""

    #: Anyone may look (a channel named from a private chat still needs its admins).
    LOOK = "look"
    #: Alone it shows the setting, with an argument it changes it.
    SHOW_OR_SET = "show or set"
    CHANGE = "change"
    #: A change, and the bot must also be allowed to post in a channel named from a private chat.
    SUBSCRIBE = "subscribe"

    def changes(self, argument: str) -> bool:
        if self is Rights.SHOW_OR_SET:
            return bool(split_channel_ref(argument)[1])
        return self in (Rights.CHANGE, Rights.SUBSCRIBE)


#: A command handler given the chat it acts on and the rest of its argument.
TargetHandler = Callable[[Update, NewsbotContext, Target, str], Coroutine[Any, Any, None]]


def on_target(rights: Rights) -> Callable[[TargetHandler], Handler]:
    """Run the handler with the chat the command acts on (this chat, or a channel named in a
    private chat) once the sender's rights are checked; a :class:`Refusal` is the reply."""
    def decorate(handler: TargetHandler) -> Handler:
        @functools.wraps(handler)
        async def checked(update: Update, context: NewsbotContext) -> None:
            message = update.effective_message
            if message is None:
                return
            argument = command_argument(message)
            try:
                target, rest = await resolve_target(
                    context.bot, message, argument, change=rights.changes(argument),
                    subscribing=rights is Rights.SUBSCRIBE)
            except Refusal as exc:
                await reply(update, str(exc))
                return
            await handler(update, context, target, rest)
        return checked
    return decorate


async def presser_may_manage(context: NewsbotContext, callback: CallbackQuery, chat_id: int,
                             refusal: str) -> bool:
    """Whether the person who tapped ``callback`` may change ``chat_id`` (the rule of
    :func:`bot.permissions.may_manage`). If not, the tap is answered with ``refusal``, or with
    why their rights could not be checked (Telegram could not be asked: that is no "no")."""
    assert callback.from_user is not None
    try:
        allowed = await may_manage(context.bot, chat_id, callback.from_user.id)
    except Refusal as exc:
        await answer_button(callback, str(exc), show_alert=True)
        return False
    if not allowed:
        await answer_button(callback, refusal, show_alert=True)
    return allowed
