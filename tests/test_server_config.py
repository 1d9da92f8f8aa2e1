"""Config of the listener and the webhook: what is accepted, and one clear line when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings, parse_listen, with_listen


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_webhook_and_listen_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\nwebhook_url = "https://bot.example.org/telegram/hook"\n'
                           'webhook_secret = "Ab_9-x"\n[server]\nlisten = "0.0.0.0:8080"\n')
    settings = load_settings(path, env={})
    assert settings.telegram.webhook_url == "https://bot.example.org/telegram/hook"
    assert settings.telegram.webhook_secret == "Ab_9-x"
    assert settings.server.listen == ("0.0.0.0", 8080)


def test_defaults_mean_polling_and_no_listener(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    assert settings.telegram.webhook_url == "" and settings.server.listen is None


@pytest.mark.parametrize(("text", "expected"), [
    ('[telegram]\nwebhook_url = "http://bot.example.org/hook"\nwebhook_secret = "s"\n',
     "[telegram] webhook_url: Telegram requires an https:// URL"),
    ('[telegram]\nwebhook_url = "https://"\nwebhook_secret = "s"\n',
     "[telegram] webhook_url: Telegram requires an https:// URL"),
    ('[telegram]\nwebhook_url = "https://bot.example.org/hook"\n',
     "[telegram] webhook_secret: required with webhook_url"),
    ('[telegram]\nwebhook_url = "https://bot.example.org/hook"\nwebhook_secret = "a b"\n',
     "[telegram] webhook_secret: must be 1-256 characters of A-Z, a-z, 0-9, _ and -"),
    (f'[telegram]\nwebhook_url = "https://b.example.org/h"\nwebhook_secret = "{"x" * 257}"\n',
     "(got 257 characters)"),
    ('[telegram]\nwebhook_secret = "abc"\n', "[telegram] webhook_secret: set webhook_url too"),
    ('[telegram]\nwebhook_url = "https://bot.example.org/metrics"\nwebhook_secret = "s"\n',
     "the path /metrics is taken"),
    ('[telegram]\nwebhook_url = 5\n', "[telegram] webhook_url: expected str"),
    ('[server]\nlisten = "8080"\n', "[server] listen: expected HOST:PORT"),
    ('[server]\nlisten = "localhost:http"\n', "[server] listen: expected HOST:PORT"),
    ('[server]\nlisten = "127.0.0.1:70000"\n', "[server] listen: expected HOST:PORT"),
    ('[server]\nlisten = ":8080"\n', "[server] listen: expected HOST:PORT"),
    ('[server]\nport = 8080\n', "[server] port: unknown key"),
])
def test_bad_values_are_one_clear_line(tmp_path: Path, text: str, expected: str,
                                       capsys) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert expected in str(caught.value) and str(path) in str(caught.value)
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_listen_forms() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("bot.internal:0") == ("bot.internal", 0)


def test_command_line_listen_overrides_the_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[server]\nlisten = "127.0.0.1:8080"\n'), env={})
    assert with_listen(settings, "127.0.0.1:8081").server.listen == ("127.0.0.1", 8081)


def test_bad_command_line_listen_is_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, '[telegram]\ntoken = "1:x"\n')
    assert main(["run", "--config", str(path), "--listen", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "--listen: expected HOST:PORT" in err and err.count("\n") == 1


def test_webhook_without_listen_is_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, '[telegram]\ntoken = "1:x"\nwebhook_url = "https://b.example.org/h"\n'
                           'webhook_secret = "abc"\n[storage]\ndatabase = "sqlite:///x.db"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "webhook_url needs [server] listen" in err and err.count("\n") == 1
