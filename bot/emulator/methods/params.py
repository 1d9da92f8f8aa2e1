"""Reading Bot API parameters as Telegram does: loose types, Telegram's error messages."""

from __future__ import annotations

import json
from typing import Any

from bot.emulator.errors import bad_request

__all__ = ["JSON", "get_bool", "get_float", "get_int", "get_json", "get_str", "utf8_len"]

JSON = dict[str, Any]


def get_str(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a String")
    return value


def get_int(params: JSON, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is empty")
        return None
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise bad_request(f"invalid {name} specified")


def get_float(params: JSON, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def get_bool(params: JSON, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def get_json(params: JSON, name: str, what: str) -> Any:
    """A parameter that is a JSON object or array (sent JSON-encoded in forms)."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None
    return value


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
