"""``newsbot demo`` through the CLI entry point: the whole story in one transcript, scripted
and interactive, with no token, no network, and nothing left behind."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest

from bot.cli import main
from bot.demo import CHANNEL_USERNAME, DATA_DIR, keyboard_lines


def _data_state() -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in DATA_DIR.iterdir()}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder with a private temporary directory, to see what is left."""
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return tmp_path


def test_demo_tells_the_whole_story_and_leaves_nothing(isolated: Path, capsys) -> None:
    data_before = _data_state()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # Browsing, with buttons shown in the transcript and a tap on one.
    assert "you> /latest 3" in out and "you> /search safety and health" in out
    assert "you> /topics" in out
    assert "[ Trafficking (" in out
    assert "you> [taps “Mining (" in out
    assert "✅ Subscribed to “Mining”" in out  # the tap's answer
    assert "[ ✅ Mining (" in out  # the edited keyboard
    # Typed subscriptions, for the chat and for a channel from the private chat.
    assert "you> /subscribe trafficking\nbot> ✅ Subscribed this chat to “trafficking”" in out
    assert f"you> /subscribe @{CHANNEL_USERNAME} trafficking\n" in out
    assert f"Subscribed @{CHANNEL_USERNAME} to “trafficking”" in out
    # A new release, said to go into the demo's own copy, arrives as alerts in both chats.
    assert "adds a new release" in out and "data/ is not touched" in out
    story = out[out.index("adds a new release"):]
    assert "bot> Governments in the Mekong region join forces against human trafficking" in story
    assert f"@{CHANNEL_USERNAME}> Governments in the Mekong region" in story
    assert story.count("Alert: trafficking") == 2
    # It ends with the way to the real thing.
    last = out.rstrip("\n").splitlines()[-2:]
    assert "@BotFather" in last[0]
    assert last[1].strip() == "TELEGRAM_BOT_TOKEN=... newsbot run"
    # Nothing left behind: no temporary directory, nothing in the current folder or data/.
    assert list((isolated / "tmp").iterdir()) == []
    assert list((isolated / "cwd").iterdir()) == []
    assert _data_state() == data_before


def test_interactive_demo_presses_buttons(isolated: Path, capsys,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["/start", "All topics ›", "press 1", "press 99", "more", "press back",
             "/subscribe trafficking", "new release", ""]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["demo", "--interactive"]) == 0
    out = capsys.readouterr().out
    assert "1·[ " in out  # numbered buttons
    assert "you> [taps “All topics ›”]" in out  # a label typed as it is shown
    assert "(updates the buttons of its message)" in out
    assert "✅ Subscribed to “" in out  # "press 1"
    assert "(there is no such button to press)" in out
    assert "you> [taps “More › (2/" in out
    assert "you> [taps “‹ Back”]" in out
    assert "Alert: trafficking" in out
    assert list((isolated / "tmp").iterdir()) == []


def test_new_release_without_subscribers_says_so(isolated: Path, capsys,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("new release\n"))
    assert main(["demo", "--interactive"]) == 0
    assert "nobody gets an alert" in capsys.readouterr().out


def test_keyboard_lines_show_rows() -> None:
    message = {"reply_markup": {"inline_keyboard": [
        [{"text": "Trafficking (4)", "callback_data": "a"},
         {"text": "Child labour (3)", "callback_data": "b"}],
        [{"text": "More ›", "callback_data": "c"}]]}}
    assert keyboard_lines(message) == ["[ Trafficking (4) ] [ Child labour (3) ]", "[ More › ]"]
    assert keyboard_lines(message, numbered=True)[1] == "3·[ More › ]"


def test_interactive_more_pages_in_french_and_taps_nothing_else(
        isolated: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """`more` is the newest More button in the chat's language ("Suite ›" in French); with
    none, it says so instead of tapping another button (here: removing a subscription)."""
    lines = ["/language fr", "/topics", "more", "/subscribe trafficking", "/subscriptions",
             "more", "/subscriptions", ""]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["demo", "--interactive"]) == 0
    out = capsys.readouterr().out
    assert "you> [taps “Suite › (2/" in out
    assert "(there is no More button to press)" in out
    assert "[taps “✖" not in out
    assert out.count("1. trafficking") == 4  # listed, and still there after "more"
