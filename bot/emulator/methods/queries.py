"""Answers to callback queries (button presses) and inline queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.emulator.errors import bad_request
from bot.emulator.methods.api import BotApi, api_method
from bot.emulator.methods.params import JSON, get_json, get_str, utf8_len
from bot.emulator.model import BotState

MAX_INLINE_RESULTS = 50
MAX_CALLBACK_ANSWER_LENGTH = 200

_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"



def _unanswered(params: JSON, name: str, asked: Mapping[str, JSON],
                answered: Mapping[str, JSON]) -> str:
    """The query id in ``name``; unknown or already answered ids are "too old"."""
    query_id = get_str(params, name)
    if not query_id:
        raise bad_request(f"{name} is empty")
    if query_id not in asked or query_id in answered:
        raise bad_request(_QUERY_TOO_OLD)
    return query_id

@api_method("answerCallbackQuery")
def answer_callback_query(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Answer a callback query once; unknown or already answered ids are "too old"."""
    query_id = _unanswered(params, "callback_query_id", api.world.callback_queries,
                           api.world.callback_answers)
    text = get_str(params, "text") or ""
    if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    api.world.callback_answers[query_id] = dict(params)
    api.world.notify()
    return True


@api_method("answerInlineQuery")
def answer_inline_query(api: BotApi, bot: BotState, params: JSON) -> bool:
    """Validate and record the results for an inline query (kept in inline_answers)."""
    query_id = _unanswered(params, "inline_query_id", api.world.inline_queries,
                           api.world.inline_answers)
    results = get_json(params, "results", "inline query results")
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        _check_inline_result(api, result, seen)
    next_offset = get_str(params, "next_offset") or ""
    if utf8_len(next_offset) > 64:
        raise bad_request("NEXT_OFFSET_INVALID")
    answer = dict(params)
    answer["results"] = results
    api.world.inline_answers[query_id] = answer
    api.world.notify()
    return True


def _check_inline_result(api: BotApi, result: Any, seen: set[str]) -> None:
    if not isinstance(result, dict) or not isinstance(result.get("type"), str):
        raise bad_request(
            'can\'t parse inline query result: Field "type" must be of type String'
        )
    result_id = result.get("id")
    if not isinstance(result_id, str) or not 1 <= utf8_len(result_id) <= 64:
        raise bad_request("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad_request("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    if result["type"] == "article":
        if not isinstance(result.get("title"), str) or not result["title"]:
            raise bad_request("RESULT_TITLE_EMPTY")
        if not isinstance(result.get("input_message_content"), dict):
            raise bad_request(
                'can\'t parse inline query result: Field "input_message_content" must be '
                "of type Object"
            )
    content = result.get("input_message_content")
    if isinstance(content, dict) and "message_text" in content:
        api.format_text(
            get_str(content, "message_text"),
            get_str(content, "parse_mode"),
            content.get("entities"),
            empty="MESSAGE_EMPTY",
            too_long="MESSAGE_TOO_LONG",
        )
    if "reply_markup" in result:
        api.reply_markup(result)
