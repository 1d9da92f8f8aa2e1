"""``newsbot demo``: the real bot, unchanged, against the bundled Bot API emulator.

No token and no network are needed: the emulator listens on 127.0.0.1, the bot long-polls
it exactly as it would poll Telegram, and this module plays the user and prints the chat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.config import (
    ServerSettings,
    Settings,
    SourceSettings,
    StorageSettings,
    TelegramSettings,
)
from bot.emulator import Emulator

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_TOKEN = "100000001:DEMO-not-a-real-token"
TOUR = ("/start", "/latest 3", "/search trafficking", "/search trafiking",
        "/search safety and health", "MORE")
PROMPT = "you> "
#: The public URL the demo bot gives setWebhook; the emulator plays the TLS proxy in front.
DEMO_PUBLIC = "https://newsbot.example.org/"


def demo_settings(database: Path, api_base_url: str) -> Settings:
    """Settings for a throw-away bot on the bundled data."""
    return Settings(
        telegram=TelegramSettings(token=DEMO_TOKEN, api_base_url=api_base_url, poll_timeout=1),
        storage=StorageSettings(database=f"sqlite:///{database}"),
        sources=SourceSettings(files=(DATA_DIR / "releases.json",), poll_seconds=3600.0),
        topics_file=DATA_DIR / "topics.toml",
    )


class DemoChat:
    """Plays one user in a private chat with the bot and prints what the bot answers."""

    def __init__(self, emulator: Emulator, user: dict[str, Any]) -> None:
        self.emu, self.user = emulator, user
        self.chat = emulator.private_chat(user)

    async def say(self, text: str, *, echo: bool = True) -> None:
        if echo:
            print(f"{PROMPT}{text}")
        before = len(self.emu.sent(self.chat["id"]))
        self.emu.send_message(self.chat, text, from_user=self.user)
        await self._show_replies(before)

    async def press_more(self) -> bool:
        """Press the newest button the bot showed; False if there is none."""
        for message in reversed(self.emu.sent(self.chat["id"])):
            buttons = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            if buttons and buttons[0]:
                button = buttons[0][0]
                print(f"{PROMPT}[presses “{button['text']}”]")
                before = len(self.emu.sent(self.chat["id"]))
                self.emu.press_button(message, button["callback_data"], from_user=self.user)
                await self._show_replies(before)
                return True
        print("(there is no button to press)")
        return False

    async def _show_replies(self, before: int) -> None:
        try:
            await self.emu.wait_for_messages(self.chat["id"], before + 1, timeout=10)
        except AssertionError:
            print("bot> (no answer)")
            return
        await asyncio.sleep(0.2)  # a reply may come in several messages
        for message in self.emu.sent(self.chat["id"])[before:]:
            print(render_for_terminal(message))


def render_for_terminal(message: dict[str, Any]) -> str:
    lines = message.get("text", "").splitlines() or [""]
    text = "\n".join(["bot> " + lines[0], *("     " + line for line in lines[1:])])
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    buttons = " ".join(f"[{b['text']}]" for row in rows for b in row)
    return f"{text}\n     {buttons}\n" if buttons else text + "\n"


def webhook_settings(settings: Settings) -> Settings:
    """The demo bot in webhook mode: a real https URL and secret, listening on 127.0.0.1."""
    telegram = dataclasses.replace(settings.telegram, webhook_url=DEMO_PUBLIC + "telegram/hook",
                                   webhook_secret=secrets.token_urlsafe(24))
    return dataclasses.replace(settings, telegram=telegram,
                               server=ServerSettings(listen=("127.0.0.1", 0)))


async def run_demo(*, interactive: bool = False, webhook: bool = False) -> int:
    from bot.app import build_application, running

    if not (DATA_DIR / "releases.json").is_file():
        print(f"newsbot: error: bundled data not found at {DATA_DIR}; run the demo from a "
              "checkout installed with `pip install -e .`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newsbot-demo-") as tmp:
        async with Emulator() as emu:
            emu.add_bot(DEMO_TOKEN, username="newsbot_demo_bot", first_name="Newsbot")
            user = emu.add_user("You", username="demo_user")
            settings = demo_settings(Path(tmp) / "demo.sqlite3", emu.base_url)
            if webhook:
                settings = webhook_settings(settings)
            app = build_application(settings)
            async with running(app) as svc:
                print(f"Demo: the bot runs against a local Telegram emulator at {emu.base_url}")
                if webhook:
                    port = svc.extra["http"].port
                    emu.route_webhook(DEMO_PUBLIC, f"http://127.0.0.1:{port}/")
                    print(f"Webhook mode: the emulator pushes updates to "
                          f"{settings.telegram.webhook_url} (that is, http://127.0.0.1:{port}"
                          f"/telegram/hook); metrics at http://127.0.0.1:{port}/metrics")
                print()
                chat = DemoChat(emu, user)
                if interactive:
                    await _interactive(chat)
                else:
                    for step in TOUR:
                        await (chat.press_more() if step == "MORE" else chat.say(step))
                    print("Try it yourself: newsbot demo --interactive")
    return 0


async def _interactive(chat: DemoChat) -> None:
    print("Type commands such as /latest or /search coal mine; 'more' presses the last "
          "button; an empty line or Ctrl+D quits.\n")
    typing = sys.stdin.isatty()  # a person sees what they typed; piped input is echoed
    while True:
        try:
            line = (await asyncio.to_thread(input, PROMPT if typing else "")).strip()
        except EOFError:
            break
        if not line or line in {"quit", "exit"}:
            break
        if line == "more":
            await chat.press_more()
        else:
            await chat.say(line, echo=not typing)
