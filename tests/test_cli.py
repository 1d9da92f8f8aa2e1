"""The newsbot command as a user runs it: import, search, run (errors, signals, secrecy)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.helpers import DATA, ROOT, TOKEN

SEED = ROOT / "tests" / "fixtures" / "sources" / "ilo-news-2004.txt"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndatabase = "sqlite:///db/newsbot.sqlite3"\n'
                    f'[sources]\nfiles = ["{DATA / "releases.json"}"]\n'
                    f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    return path


def test_import_counts_new_updated_unchanged(config: Path, tmp_path: Path, capsys) -> None:
    assert main(["import", str(SEED), "--config", str(config)]) == 0
    assert "10 new, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert (tmp_path / "db" / "newsbot.sqlite3").is_file()  # relative to the config's folder
    assert main(["import", str(SEED), "--config", str(config)]) == 0
    assert "0 new, 0 updated, 10 unchanged" in capsys.readouterr().out
    changed = json.loads((DATA / "releases.json").read_text())
    changed[0]["summary"] += " Updated."
    changed.append({"title": "A brand new release", "date": "2005-01-02", "summary": "New."})
    (tmp_path / "more.json").write_text(json.dumps(changed))
    assert main(["import", str(tmp_path / "more.json"), "--config", str(config)]) == 0
    assert "1 new, 1 updated, 9 unchanged" in capsys.readouterr().out


def test_import_malformed_file_names_entry_and_writes_nothing(
        config: Path, tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.json"
    fine = {"title": "Quokkafest gathering", "date": "2005-01-01", "summary": "ok"}
    good.write_text(json.dumps([fine]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([fine, {"title": "Broken", "date": "2005-13-45", "summary": "x"}]))
    assert main(["import", str(good), str(bad), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "entry 2" in err and "date" in err
    assert main(["search", "quokkafest", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == []  # not even the good file went in


def test_import_missing_file(config: Path, capsys) -> None:
    assert main(["import", "/nonexistent/file.json", "--config", str(config)]) == 1
    assert "no such file" in capsys.readouterr().err


def test_search_json(config: Path, capsys) -> None:
    assert main(["search", "trafiking", "--limit", "3", "--json", "--config", str(config)]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) <= 3
    assert {"id", "title", "date", "score"} <= set(hits[0])
    assert {"Lao", "Mekong"} <= {w for h in hits[:2] for w in h["title"].split()}


def test_search_text_and_bad_limit(config: Path, capsys) -> None:
    assert main(["search", "coal", "mine", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Hunan" in out and "Viet Nam" in out
    with pytest.raises(SystemExit) as exc:
        main(["search", "coal", "--limit", "zero", "--config", str(config)])
    assert exc.value.code == 2


def test_run_without_token_names_the_key(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "[telegram] token" in err and "TELEGRAM_BOT_TOKEN" in err


@pytest.mark.parametrize(("text", "expected"), [
    ("[telegram]\npoll_timeout = 'soon'\n", "[telegram] poll_timeout"),
    ("[bot]\nadmins = ['me']\n", "[bot] admins"),
    ("[sourcez]\n", "[sourcez]"),
    ("[sources]\nfeeds = ['ftp://x']\n", "[sources] feeds"),
    ("[telegram\n", "not valid TOML"),
    ("[delivery]\nmessages_per_second = 0\n", "[delivery] messages_per_second"),
])
def test_bad_config_is_one_clear_line(tmp_path: Path, capsys, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and str(path) in err and "\n" not in err


def test_missing_config_file(capsys) -> None:
    assert main(["run", "--config", "/nonexistent/newsbot.toml"]) == 2
    assert "config file not found" in capsys.readouterr().err


async def _newsbot(config: Path, *args: str, env: dict[str, str] | None = None
                   ) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})}, cwd=str(ROOT))


def _run_config(tmp_path: Path, base_url: str, token: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(f'[telegram]\ntoken = "{token}"\napi_base_url = "{base_url}"\n'
                    f'poll_timeout = 1\n[storage]\ndatabase = "sqlite:///bot.sqlite3"\n'
                    f'[sources]\nfiles = ["{DATA / "releases.json"}"]\n'
                    f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    return path


async def test_run_with_invalid_token_exits_with_clear_error(emulator, tmp_path: Path) -> None:
    secret = "999999:WRONG-token-that-must-not-leak"
    proc = await _newsbot(_run_config(tmp_path, emulator.base_url, secret), "run")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    text = err.decode()
    assert "refused the bot token" in text and "401" in text
    assert secret not in text + out.decode()


async def test_run_answers_and_stops_cleanly_on_sigterm(emulator, tmp_path: Path) -> None:
    proc = await _newsbot(_run_config(tmp_path, emulator.base_url, TOKEN), "run", "-v")
    try:
        user = emulator.add_user("Cy")
        chat = emulator.private_chat(user)
        await emulator.wait_for(lambda: any(r.method == "getUpdates" for r in emulator.requests),
                                timeout=60)
        emulator.send_message(chat, "/latest 1", from_user=user)
        [answer] = await emulator.wait_for_messages(chat["id"], 1, timeout=30)
        assert "Latest release" in answer["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert TOKEN not in err.decode() + out.decode()


def test_search_minus_word_needs_no_double_dash(config: Path, capsys) -> None:
    assert main(["search", "trafficking", "-mekong", "--json", "--config", str(config)]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["title"] for h in hits] == ["Migrant Lao children - whereabouts unknown"]
    with pytest.raises(SystemExit):
        main(["import", "x.json", "--bogus"])


def test_import_explains_folders_types_and_what_was_not_imported(
        config: Path, tmp_path: Path, capsys) -> None:
    assert main(["import", str(tmp_path), "--config", str(config)]) == 1
    assert "is a folder" in capsys.readouterr().err
    typed = tmp_path / "typed.json"
    typed.write_text(json.dumps([{"title": "T", "date": 20200101, "summary": "s"}]))
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"title": "T", "date": "2020-01-01", "summary": "s"}]))
    assert main(["import", str(good), str(typed), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "must be a string" in err and "none of the files was imported" in err
