"""Config: defaults, the example file, relative paths, the environment, and clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.app import file_url
from bot.config import ConfigError, Settings, load_settings
from tests.helpers import ROOT


def test_example_config_documents_exactly_the_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # without a file, relative defaults resolve against the cwd
    example = load_settings(ROOT / "config.example.toml", env={})
    defaults = load_settings(None, env={}) if not (ROOT / "config.toml").exists() else None
    assert defaults is not None, "a config.toml in the checkout would change the defaults"
    assert dataclasses.replace(example, path=None) == defaults


def test_no_file_means_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.path is None and settings.telegram.token is None
    assert settings.sources.files == (tmp_path / "data" / "releases.json",)
    assert settings.storage.database == f"sqlite:///{tmp_path / 'data' / 'newsbot.sqlite3'}"
    with pytest.raises(ConfigError, match=r"\[telegram\] token"):
        settings.require_token()


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "bot.toml").write_text(
        '[storage]\ndatabase = "sqlite:///db/x.sqlite3"\n[sources]\nfiles = ["a.json"]\n'
        '[search]\ntopics_file = "/abs/topics.toml"\n')
    settings = load_settings(folder / "bot.toml", env={})
    assert settings.storage.database == f"sqlite:///{folder / 'db' / 'x.sqlite3'}"
    assert settings.sources.files == (folder / "a.json",)
    assert settings.topics_file == Path("/abs/topics.toml")


def test_environment_token_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[telegram]\ntoken = "from-file"\n')
    assert load_settings(path, env={}).require_token() == "from-file"
    assert load_settings(path, env={"TELEGRAM_BOT_TOKEN": "from-env"}).require_token() == "from-env"


def test_postgres_url_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\ndatabase = "postgresql://u:p@localhost/newsbot"\n')
    assert load_settings(path, env={}).storage.database == "postgresql://u:p@localhost/newsbot"


@pytest.mark.parametrize("text", [
    "[storage]\ndatabase = 'not a url'\n",
    "[telegram]\napi_base_url = 'api.telegram.org'\n",
    "[bot]\npage_size = true\n",
    "[bot]\npage_size = 2.5\n",
    "[sources]\nfiles = 'data/releases.json'\n",
    "[sources]\nfiles = ['']\n",
    "[delivery]\nmax_attempts = -1\n",
    "[delivery]\nmessages_per_second = inf\n",
    "[delivery]\nbackoff_seconds = nan\n",
    "[sources]\npoll_seconds = +inf\n",
    "telegram = 5\n",
])
def test_bad_values_name_file_and_key(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("url", ["https://api.telegram.org", "https://api.telegram.org/",
                                 "http://127.0.0.1:8081/"])
def test_api_base_url_without_a_path_is_refused(tmp_path: Path, url: str) -> None:
    """The token is appended to the URL: without a path it would land on the host's port
    ("Invalid port: '8081<token>'", retried for 15 s as if the server were down)."""
    path = tmp_path / "bad.toml"
    path.write_text(f"[telegram]\napi_base_url = '{url}'\n")
    with pytest.raises(ConfigError, match=r"\[telegram\] api_base_url: .*/bot"):
        load_settings(path, env={})


def test_api_base_url_with_a_path_or_token_placeholder_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    for url in ("http://127.0.0.1:8081/bot", "https://api.telegram.org/bot{token}/test"):
        path.write_text(f"[telegram]\napi_base_url = '{url}'\n")
        assert load_settings(path, env={}).telegram.api_base_url == url


def test_file_url_sits_next_to_the_api_url() -> None:
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("https://api.telegram.org/bot{token}/test") == (
        "https://api.telegram.org/file/bot{token}/test")


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().path = Path("x")  # type: ignore[misc]


def test_operator_chats_are_numeric_chat_ids(tmp_path: Path) -> None:
    path = tmp_path / "ops.toml"
    path.write_text('[bot]\noperator_chats = [42, -1001234]\noperator_notice_minutes = 0.5\n')
    settings = load_settings(path, env={})
    assert settings.bot.operator_chats == (42, -1001234)
    assert settings.bot.operator_notice_minutes == 0.5
    path.write_text('[bot]\noperator_chats = ["@ops"]\n')
    with pytest.raises(ConfigError, match=r"\[bot\] operator_chats: expected a list of numeric"):
        load_settings(path, env={})
    path.write_text('[bot]\noperator_notice_minutes = 0\n')
    with pytest.raises(ConfigError, match=r"\[bot\] operator_notice_minutes: must be greater"):
        load_settings(path, env={})
