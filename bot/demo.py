"""``newsbot demo``: the real bot, unchanged, against the bundled Bot API emulator.

No token and no network are needed: the emulator listens on 127.0.0.1, the bot long-polls
it exactly as it would poll Telegram, and this module plays the user and prints the chat.
The scripted tour tells the whole story: browsing, subscribing (typed and with a tap, for the
user's private chat and for a channel), then a new release arriving as an alert. Everything
the bot writes goes to a temporary directory that is removed at the end; the bundled data is
only read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import date
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
from bot.i18n import translations
from bot.store import Store
from bot.text.languages import LANGUAGES

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_TOKEN = "100000001:DEMO-not-a-real-token"
PROMPT = "you> "
CHANNEL_USERNAME = "demo_newsroom"
#: How long the demo waits for the bot before saying it did not answer.
ANSWER_TIMEOUT = 10.0
#: The bot has answered once nothing changed for this long: a reply may be several messages,
#: and the outgoing lane spaces messages to one private chat a second apart.
QUIET_SECONDS = 1.3

#: The scripted tour: ("say", text) types a message, ("press", label) taps the newest button
#: whose label starts with it, ("channel", "") creates the user's channel, ("release", "")
#: adds a new release to the demo's copy of the data and shows the alerts.
TOUR: tuple[tuple[str, str], ...] = (
    ("say", "/start"),
    ("say", "/latest 3"),
    ("say", "/search trafiking"),
    ("say", "/search safety and health"),
    ("press", "More"),
    ("say", "/topics"),
    ("press", "Mining"),
    ("say", "/subscribe trafficking"),
    ("channel", ""),
    ("say", f"/subscribe @{CHANNEL_USERNAME} trafficking"),
    ("release", ""),
)

CLOSING = ("To run it for real: get a bot token from @BotFather in Telegram (/newbot), then\n"
           "  TELEGRAM_BOT_TOKEN=... newsbot run")
#: The public URL the demo bot gives setWebhook; the emulator plays the TLS proxy in front.
DEMO_PUBLIC = "https://newsbot.example.org/"


def demo_settings(database: Path, api_base_url: str, releases: Path) -> Settings:
    """Settings for a throw-away bot on a copy of the bundled data."""
    return Settings(
        telegram=TelegramSettings(token=DEMO_TOKEN, api_base_url=api_base_url, poll_timeout=1),
        storage=StorageSettings(database=f"sqlite:///{database}"),
        sources=SourceSettings(files=(releases,), poll_seconds=3600.0),
        topics_file=DATA_DIR / "topics.toml",
    )


def demo_release(n: int = 1) -> dict[str, Any]:
    """A made-up release about trafficking, dated today, that says it is made up."""
    suffix = f" (No. {n})" if n > 1 else ""
    today = date.today().isoformat()
    return {
        "id": f"{today}-newsbot-demo-{n}",  # the title alone would give each the same id
        "kind": "Press release",
        "title": f"Governments in the Mekong region join forces against human trafficking{suffix}",
        "date": today,
        "place": "Bangkok",
        "summary": ("A release made up by newsbot demo: six governments agree to share data "
                    "on trafficking routes and to protect the people who escape them."),
    }


@dataclass
class Watched:
    """A chat whose bot messages the demo prints, and how it names their author."""

    chat_id: int
    who: str


class DemoChat:
    """Plays one user in a private chat with the bot and prints what the bot answers."""

    def __init__(self, emulator: Emulator, user: dict[str, Any], *, numbered: bool = False,
                 releases: Path | None = None, app: Any = None,
                 store: Store | None = None) -> None:
        self.emu, self.user = emulator, user
        self.chat = emulator.private_chat(user)
        self.numbered = numbered  # interactive: number buttons so "press 2" can name them
        self.releases, self.app, self.store = releases, app, store
        self.watched = [Watched(self.chat["id"], "bot")]
        self._added = 0

    # -- what the user does ----------------------------------------------------------------

    async def say(self, text: str, *, echo: bool = True) -> None:
        if echo:
            print(f"{PROMPT}{text}")
        before = self._snapshot()
        self.emu.send_message(self.chat, text, from_user=self.user)
        try:
            await self.emu.wait_for(lambda: self._snapshot() != before, ANSWER_TIMEOUT)
        except AssertionError:
            print("bot> (no answer)\n")
            return
        await self._show_changes(before)

    def buttons(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The newest message with buttons in the private chat, and its buttons in order."""
        for message in reversed(self.emu.sent(self.chat["id"])):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            found = [b for row in rows for b in row if "callback_data" in b]
            if found:
                return message, found
        return None, []

    def find_button(self, wanted: str) -> dict[str, Any] | None:
        """The newest keyboard's button numbered ``wanted`` (from 1) or labelled so: exactly,
        else by its start, ignoring case and marks such as ✅, ‹ and brackets."""
        _, buttons = self.buttons()
        if wanted.isdigit():
            n = int(wanted)
            return buttons[n - 1] if 1 <= n <= len(buttons) else None
        key = _label_key(wanted)
        exact = [b for b in buttons if _label_key(b["text"]) == key]
        starting = [b for b in buttons if _label_key(b["text"]).startswith(key)]
        found = exact or starting
        return found[0] if found else None

    def is_label(self, text: str) -> bool:
        """Is ``text`` exactly the label of one of the newest buttons (then it is a tap)?"""
        _, buttons = self.buttons()
        return any(_label_key(b["text"]) == _label_key(text) for b in buttons)

    async def press(self, wanted: str) -> bool:
        """Tap a button of the newest keyboard (see :meth:`find_button`); False if none."""
        message, _ = self.buttons()
        button = self.find_button(wanted) if wanted else None
        if message is None or button is None:
            print("(there is no such button to press)" if message else
                  "(there is no button to press)")
            return False
        print(f"{PROMPT}[taps “{button['text']}”]")
        before = self._snapshot()
        query = self.emu.press_button(message, button["callback_data"], from_user=self.user)
        try:
            await self.emu.wait_for(lambda: query["id"] in self.emu.callback_answers,
                                    ANSWER_TIMEOUT)
        except AssertionError:
            print("bot> (did not answer the tap)\n")
            return True
        answer = self.emu.callback_answers[query["id"]]
        if answer.get("text"):
            how = "a pop-up" if answer.get("show_alert") else "a notice"
            print(f"bot> ({how} on the tap) {answer['text']}")
        await self._show_changes(before)
        return True

    async def press_more(self) -> bool:
        """Press the newest "More" button (in whichever language the chat is in); False if
        the newest buttons have none: tapping another one instead could unsubscribe."""
        _, buttons = self.buttons()
        more = next((b["text"] for b in buttons if b["text"].startswith(_MORE_LABELS)), None)
        if more is None:
            print("(there is no More button to press)")
            return False
        return await self.press(more)

    def add_channel(self, hint: str) -> None:
        """The user's channel, with the user and the bot as administrators."""
        channel = self.emu.add_channel("Demo Newsroom", username=CHANNEL_USERNAME,
                                       admins=[self.user["id"], self.emu.bot["id"]])
        self.watched.append(Watched(channel["id"], f"@{CHANNEL_USERNAME}"))
        narrate(f"(You also run a channel, @{CHANNEL_USERNAME}, and have made the bot an "
                f"administrator there. {hint})")

    async def add_release(self) -> None:
        """Append a new release to the demo's copy of the data and show the alerts it brings."""
        if self.releases is None or self.app is None or self.store is None:
            print("(this demo has no data of its own to add to)")
            return
        self._added += 1
        release = demo_release(self._added)
        narrate(f"(The demo now adds a new release, “{release['title']}”, to its own "
                f"temporary copy of the data, {self.releases}; data/ is not touched. The bot "
                "checks its sources every minute; here it checks at once.)")
        data = json.loads(self.releases.read_text(encoding="utf-8"))
        data.append(release)
        self.releases.write_text(json.dumps(data, ensure_ascii=False, indent=2),
                                 encoding="utf-8")
        before, queued = self._snapshot(), len(await self.store.outbox_rows())
        [job] = self.app.job_queue.get_jobs_by_name("poll-sources")
        await job.data.poll_all()  # what the periodic job starts, awaited here
        if len(await self.store.outbox_rows()) == queued:
            print("(No subscription matches it, so nobody gets an alert. "
                  "Try /subscribe trafficking first.)\n")
            return
        try:
            await self.emu.wait_for(lambda: self._snapshot() != before, ANSWER_TIMEOUT)
        except AssertionError:
            print("(the alerts did not arrive in time)\n")
            return
        narrate("(The alerts arrive, as subscribers see them:)")
        await self._show_changes(before)

    # -- printing what the bot did ---------------------------------------------------------

    def _snapshot(self) -> dict[tuple[int, int], str]:
        """Every watched bot message as it is now, so new ones and edits can be told apart."""
        return {(w.chat_id, m["message_id"]): json.dumps([m.get("text"), m.get("reply_markup")])
                for w in self.watched for m in self.emu.sent(w.chat_id)}

    async def _settle(self) -> None:
        """Wait until the bot has stopped changing the watched chats for a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ANSWER_TIMEOUT
        while loop.time() < deadline:
            seen = self._snapshot()
            await asyncio.sleep(QUIET_SECONDS)
            if self._snapshot() == seen:
                return

    async def _show_changes(self, before: dict[tuple[int, int], str]) -> None:
        await self._settle()
        for watched in self.watched:
            for message in self.emu.sent(watched.chat_id):
                key = (watched.chat_id, message["message_id"])
                if key not in before:
                    print(render_for_terminal(message, watched.who, numbered=self.numbered))
                elif before[key] != self._snapshot().get(key):
                    print(render_edit(message, watched.who, json.loads(before[key])[0],
                                      numbered=self.numbered))


def narrate(text: str) -> None:
    """A line of the demo's own (not the bot's), wrapped for a terminal."""
    print(textwrap.fill(text, width=100, break_on_hyphens=False, break_long_words=False))


def _label_key(label: str) -> str:
    """A label as compared with what the user typed: no marks (✅ ‹ › [ ]), any case."""
    return " ".join(re.sub(r"[^\w\s()/'-]", " ", label).casefold().split())


def keyboard_lines(message: dict[str, Any], *, numbered: bool = False) -> list[str]:
    """The message's buttons, one keyboard row a line: ``[ Trafficking (4) ] [ Mining (2) ]``."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    lines, n = [], 0
    for row in rows:
        cells = []
        for button in row:
            n += 1
            cells.append(f"{n}·[ {button['text']} ]" if numbered else f"[ {button['text']} ]")
        lines.append(" ".join(cells))
    return lines


def render_for_terminal(message: dict[str, Any], who: str = "bot", *,
                        numbered: bool = False) -> str:
    """A bot message as the transcript shows it: text, then its keyboard."""
    head = f"{who}> "
    pad = " " * len(head)
    lines = message.get("text", "").splitlines() or [""]
    out = [head + lines[0], *(pad + line for line in lines[1:])]
    out += [pad + line for line in keyboard_lines(message, numbered=numbered)]
    return "\n".join(out) + "\n"


def render_edit(message: dict[str, Any], who: str, old_text: str | None, *,
                numbered: bool = False) -> str:
    """An edit of an earlier message: its new text if that changed, and its keyboard."""
    head = f"{who}> "
    pad = " " * len(head)
    if message.get("text") != old_text:
        return render_for_terminal(message, who, numbered=numbered).replace(
            head, f"{head}(edits its message) ", 1)
    keys = keyboard_lines(message, numbered=numbered)
    if not keys:
        return f"{head}(removes the buttons of its message)\n"
    return "\n".join([f"{head}(updates the buttons of its message)",
                      *(pad + line for line in keys)]) + "\n"


def webhook_settings(settings: Settings) -> Settings:
    """The demo bot in webhook mode: a real https URL and secret, listening on 127.0.0.1."""
    telegram = dataclasses.replace(settings.telegram, webhook_url=DEMO_PUBLIC + "telegram/hook",
                                   webhook_secret=secrets.token_urlsafe(24))
    return dataclasses.replace(settings, telegram=telegram,
                               server=ServerSettings(listen=("127.0.0.1", 0)))


async def run_demo(*, interactive: bool = False, webhook: bool = False) -> int:
    from bot.app import build_application, running

    source = DATA_DIR / "releases.json"
    if not source.is_file():
        print(f"newsbot: error: bundled data not found at {DATA_DIR}; run the demo from a "
              "checkout installed with `pip install -e .`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newsbot-demo-") as tmp:
        releases = Path(tmp) / "releases.json"
        shutil.copyfile(source, releases)
        async with Emulator() as emu:
            emu.add_bot(DEMO_TOKEN, username="newsbot_demo_bot", first_name="Newsbot")
            user = emu.add_user("You", username="demo_user")
            settings = demo_settings(Path(tmp) / "demo.sqlite3", emu.base_url, releases)
            if webhook:
                settings = webhook_settings(settings)
            app = build_application(settings)
            async with running(app) as svc:
                print(f"Demo: the real bot runs against a local Telegram emulator at "
                      f"{emu.base_url} (no token, no network).")
                if webhook:
                    port = svc.extra["http"].port
                    emu.route_webhook(DEMO_PUBLIC, f"http://127.0.0.1:{port}/")
                    print(f"Webhook mode: the emulator pushes updates to "
                          f"{settings.telegram.webhook_url} (that is, http://127.0.0.1:{port}"
                          f"/telegram/hook); metrics at http://127.0.0.1:{port}/metrics")
                print()
                chat = DemoChat(emu, user, numbered=interactive, releases=releases, app=app,
                                store=svc.store)
                if interactive:
                    await _interactive(chat)
                else:
                    await _tour(chat)
                    print("Try it yourself: newsbot demo --interactive")
                print(CLOSING)
    return 0


async def _tour(chat: DemoChat) -> None:
    for kind, text in TOUR:
        if kind == "say":
            await chat.say(text)
        elif kind == "press":
            await chat.press(text)
        elif kind == "channel":
            chat.add_channel("You subscribe it from this private chat:")
        else:
            await chat.add_release()


#: How a "More ›" button starts in each language the bot speaks.
_MORE_LABELS = tuple(translations(language).gettext("More ›").removesuffix("›").strip()
                     for language in LANGUAGES)
_PRESS = re.compile(r"^(?:press|tap)\s+(.+)$", re.IGNORECASE)


async def _interactive(chat: DemoChat) -> None:
    chat.add_channel(f"To subscribe it from here: /subscribe @{CHANNEL_USERNAME} mining")
    narrate("Type commands such as /latest or /search coal mine. Buttons are numbered: "
            "'press 2' (or 'press Mining', or a button's label) taps one of the newest "
            "buttons, 'more' the newest More button; 'new release' adds a release about "
            "trafficking to the demo's copy of the data, so subscribers get an alert. "
            "An empty line or Ctrl+D quits.")
    print()
    typing = sys.stdin.isatty()  # a person sees what they typed; piped input is echoed
    while True:
        try:
            line = (await asyncio.to_thread(input, PROMPT if typing else "")).strip()
        except EOFError:
            break
        if not line or line in {"quit", "exit"}:
            break
        pressed = _PRESS.match(line)
        if line == "more":
            await chat.press_more()
        elif line == "new release":
            await chat.add_release()
        elif pressed:
            await chat.press(pressed.group(1))
        elif chat.is_label(line):
            await chat.press(line)
        else:
            await chat.say(line, echo=not typing)
