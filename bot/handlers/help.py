"""/start and /help: what the bot does and every command with an example; in a private
chat /start also offers a few popular topics as buttons, so the first alert is one tap away."""

from __future__ import annotations

from html import escape

from telegram import BotCommand, Update
from telegram.constants import ChatType

from bot.context import NewsbotContext
from bot.handlers.common import answer_button, answers_query, reply
from bot.handlers.topics import target_of, welcome_keyboard
from bot.i18n import N_, _

#: The command list shown by Telegram clients (registered with setMyCommands at start-up,
#: once per language): command and description (translated by :func:`bot_commands`).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("latest", N_("Newest releases: /latest 10")),
    ("search", N_("Search releases: /search trafficking")),
    ("subscribe", N_("Alerts for a topic: /subscribe child labour")),
    ("unsubscribe", N_("Stop alerts: /unsubscribe child labour")),
    ("subscriptions", N_("This chat's alert topics")),
    ("digest", N_("Time of daily/weekly digests: /digest 18:30 Europe/Paris")),
    ("topics", N_("Suggested topics: tap one to subscribe")),
    ("language", N_("Language of the bot: /language fr")),
    ("help", N_("How to use this bot")),
)


def bot_commands() -> list[BotCommand]:
    """The command list in the current language."""
    return [BotCommand(name, _(description)) for name, description in COMMANDS]


HELP_TEXT = N_("""\
<b>Press releases, searchable, with alerts.</b>

<b>Browse</b>
/latest — the 5 newest releases; <code>/latest 10</code> for more (up to 20)
/search <i>words</i> — typo-tolerant search, e.g. <code>/search trafficking</code>
  Filters: <code>place:beijing</code>, <code>country:china</code>, <code>since:2004-09</code>, \
<code>before:2004-10-01</code>, <code>kind:advisory</code>, <code>lang:fr</code>, \
phrases in quotes: \
<code>/search "coal mine"</code>, leave words out: <code>/search safety -china</code>
In any chat, type <code>@{username} words</code> to share a release.

<b>Alerts</b>
/subscribe <i>topic</i> — get each new matching release, \
e.g. <code>/subscribe child labour</code>; \
exclude words with a minus: <code>/subscribe trafficking -football</code>; \
<code>/subscribe</code> alone: every new release
Add <code>daily</code> or <code>weekly</code> for one digest message instead: \
<code>/subscribe child labour daily</code>; <code>instant</code> switches back
/digest <i>HH:MM Area/City</i> — when digests arrive, e.g. <code>/digest 18:30 Europe/Paris</code> \
(default 08:00 UTC; weekly ones on Mondays)
/unsubscribe <i>topic</i> — stop one; <code>/unsubscribe all</code> — stop all
/subscriptions — this chat's topics, with buttons to remove them
/topics — suggested topics as buttons: tap one to subscribe
In groups only admins change subscriptions. For a channel: post <code>/subscribe topic</code> \
in the channel, or send me <code>/subscribe @channel topic</code> here (you and I must be \
admins there).

/language — the language I speak here: <code>/language fr</code>, <code>/language es</code>, \
<code>/language en</code>
/help — this message. In a private chat, any other text is searched.""")


async def unknown_command(update: Update, context: NewsbotContext) -> None:
    """A command this bot does not have (in a private chat, where it is surely meant for us)."""
    message = update.effective_message
    name = (message.text or "").split(maxsplit=1)[0] if message else ""
    await reply(update, _("I don't know {command}. /help lists what I can do.").format(
        command=escape(name[:40])))


@answers_query
async def stale_button(update: Update, context: NewsbotContext) -> None:
    """A button from an older version of the bot, or whose data Telegram mangled."""
    if update.callback_query is not None:
        await answer_button(update.callback_query,
                            _("This button no longer works. Send the command again."))


WELCOME_LINE = N_("<b>Start here:</b> tap a topic below to get its new releases as alerts.")


async def help_command(update: Update, context: NewsbotContext) -> None:
    await reply(update, _(HELP_TEXT).format(username=context.bot.username))


async def start(update: Update, context: NewsbotContext) -> None:
    """/start: the help text; in a private chat with popular topics to subscribe with a tap."""
    message = update.effective_message
    if message is None or message.chat.type != ChatType.PRIVATE:
        await help_command(update, context)
        return
    markup = await welcome_keyboard(context.services, target_of(message))
    text = _(HELP_TEXT).format(username=context.bot.username)
    await reply(update, f"{text}\n\n{_(WELCOME_LINE)}" if markup else text, reply_markup=markup)
