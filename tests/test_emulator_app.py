"""A real, unchanged PTB ``Application`` polling the emulator: proof that the bot runs on it."""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.emulator import ABANDONED, Emulator

TOKEN = "424242:application-test-token"
BOT_NAME = "newsbot_test_bot"


async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /ping with pong and a button."""
    assert update.effective_message is not None
    button = InlineKeyboardButton("again", callback_data="again")
    await update.effective_message.reply_text(
        "<b>pong</b>", parse_mode="HTML", reply_markup=InlineKeyboardMarkup([[button]])
    )


async def again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the button by editing the message."""
    query = update.callback_query
    assert query is not None
    await query.answer("again!")
    await query.edit_message_text("pong again")


def build(emu: Emulator) -> Application:  # type: ignore[type-arg]
    app = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("ping", ping))
    app.add_handler(CallbackQueryHandler(again, pattern="^again$"))
    return app


async def test_ptb_application_runs_unchanged_against_the_emulator() -> None:
    async with Emulator() as emu:
        emu.add_bot(TOKEN, username=BOT_NAME)
        ada = emu.add_user("Ada", username="ada")
        group = emu.add_group("Readers", members={ada["id"]: "creator"})
        app = build(emu)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
            )

            emu.send_message(ada, "/ping")
            (reply,) = await emu.wait_for_messages(ada["id"], 1, timeout=5)
            assert (reply["text"], reply["html"]) == ("pong", "<b>pong</b>")

            emu.send_message(group, f"/ping@{BOT_NAME}", from_user=ada)
            emu.send_message(group, "/ping@some_other_bot", from_user=ada)
            await emu.wait_for_messages(group["id"], 1, timeout=5)

            query = emu.press_button(reply, "again", from_user=ada)
            await emu.wait_for(lambda: reply["text"] == "pong again", timeout=5)
            assert emu.callback_answers[query["id"]]["text"] == "again!"

            # Shutting down while a long poll is pending must be clean and quick.
            await asyncio.wait_for(app.updater.stop(), 5)
            await asyncio.wait_for(app.stop(), 5)

        assert len(emu.sent(group["id"])) == 1  # the other bot's command was not for us
        polls = [r for r in emu.requests if r.method == "getUpdates"]
        assert polls and set(polls[0].params["allowed_updates"]) == set(Update.ALL_TYPES)
        # PTB aborts its pending poll when stopping; that one is logged as abandoned.
        assert all(r.status in {200, ABANDONED} for r in emu.requests), [
            (r.method, r.response) for r in emu.requests if r.status != 200
        ]
