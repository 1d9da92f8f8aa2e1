"""Bad input through the newsbot command: one line on stderr, a non-zero exit, no traceback,
no token, and nothing stored (issue 7, section 4)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot import cli
from bot.cli import main
from bot.sources import SourceError, load_file
from tests.helpers import DATA
from tests.test_cli import _newsbot, _run_config

SECRET = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def release_json(n: int) -> dict:
    return {"id": f"r{n}", "title": f"Dock workers safety report {n}", "date": "2005-01-02",
            "summary": "Ports and safety."}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndatabase = "sqlite:///db/newsbot.sqlite3"\n'
                    f'[sources]\nfiles = []\nmax_file_bytes = 2000\n'
                    f'[search]\ntopics_file = "{DATA / "topics.toml"}"\n')
    return path


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsbot: error: "), err
    assert "Traceback" not in err
    return lines[0]


def stored_ids(config: Path, capsys) -> list[str]:
    assert main(["search", "dock workers safety", "--json", "--config", str(config)]) == 0
    return [r["id"] for r in json.loads(capsys.readouterr().out)]


def test_load_file_refuses_a_file_over_the_cap_before_reading_it(tmp_path: Path,
                                                                 monkeypatch) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps([release_json(n) for n in range(100)]))
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(SourceError) as exc:
        load_file(big, max_bytes=1000)
    assert str(big) in str(exc.value) and "max_file_bytes" in str(exc.value)
    assert len(load_file(big, max_bytes=big.stat().st_size)) == 100


def test_import_of_a_file_over_the_cap_stores_nothing(config: Path, tmp_path: Path,
                                                      capsys) -> None:
    small, big = tmp_path / "small.json", tmp_path / "big.json"
    small.write_text(json.dumps([release_json(1)]))
    big.write_text(json.dumps([release_json(n) for n in range(2, 60)]))
    assert main(["import", str(small), str(big), "--config", str(config)]) == 1
    line = one_line(capsys.readouterr().err)
    assert str(big) in line and "larger than the limit" in line and "max_file_bytes" in line
    assert stored_ids(config, capsys) == []


@pytest.mark.parametrize(("content", "expected"), [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    (b"\xff\xfe[not utf-8]", "not UTF-8"),
])
def test_import_of_unreadable_content_is_one_line(config: Path, tmp_path: Path, capsys,
                                                 content: str | bytes, expected: str) -> None:
    path = tmp_path / "bad.json"
    config.write_text(config.read_text().replace("max_file_bytes = 2000",
                                                 "max_file_bytes = 10000000"))
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["import", str(path), "--config", str(config)]) == 1
    assert expected in one_line(capsys.readouterr().err)


def test_unexpected_failures_are_one_line_without_the_token(config: Path, capsys,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SECRET)

    def boom(*_args: object) -> None:
        raise RuntimeError(f"request to https://api.telegram.org/bot{SECRET}/getMe failed\n"
                           "second line")

    monkeypatch.setattr(cli, "_run", lambda settings: boom())
    assert main(["run", "--config", str(config)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "getMe failed" in line and SECRET not in line and "<token>" in line

    monkeypatch.setattr(cli, "_search", lambda *a: (_ for _ in ()).throw(OSError(28, "No space")))
    assert main(["search", "x", "--config", str(config)]) == 1
    assert "disk is full" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("value", [f'["{SECRET}"]', "123456789", f'{{ t = "{SECRET}" }}'])
def test_a_token_of_the_wrong_type_is_not_printed(tmp_path: Path, capsys, value: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[telegram]\ntoken = {value}\n")
    assert main(["run", "--config", str(path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "[telegram] token" in line and SECRET not in line and "123456789" not in line


def test_limit_takes_ascii_digits_only(config: Path, capsys) -> None:
    for bad in ("²", "①", "99999999999999999999", "-3"):
        with pytest.raises(SystemExit) as exc:
            main(["search", "x", "--limit", bad, "--config", str(config)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "expected a whole number" in err and "Traceback" not in err


async def test_wrong_api_path_is_reported_as_a_404_not_a_refused_token(
        emulator, tmp_path: Path) -> None:
    wrong = emulator.base_url.removesuffix("/bot") + "/nothing-here/bot"
    proc = await _newsbot(_run_config(tmp_path, wrong, SECRET), "run")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    line = one_line(err.decode())
    assert "answered 404" in line and "api_base_url" in line and "refused" not in line
    assert SECRET not in out.decode() + err.decode()


async def test_run_with_a_broken_topics_file_exits_at_once_with_one_line(
        emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A start-up failure after the store was opened used to leave the store's thread
    running: the error line, then a process that never exited (and a traceback on Ctrl+C)."""
    topics = tmp_path / "topics.toml"
    topics.write_text("not toml [", encoding="utf-8")
    config = _run_config(tmp_path, emulator.base_url, SECRET)
    config.write_text(config.read_text().replace(str(DATA / "topics.toml"), str(topics)))
    proc = await _newsbot(config, "run")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    line = one_line(err.decode())
    assert proc.returncode != 0
    assert str(topics) in line and "not valid TOML" in line
    assert SECRET not in line + out.decode()
