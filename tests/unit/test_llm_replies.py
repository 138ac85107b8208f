"""Defensive parsing of chat-completion bodies: odd servers give outcomes, not exceptions downstream."""

from __future__ import annotations

import json

import pytest

from app.llm.replies import MalformedReply, parse_chat_body


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_normal_body() -> None:
    parsed = parse_chat_body(
        body(
            model="m",
            usage={"prompt_tokens": 5, "completion_tokens": 2},
            choices=[{"message": {"content": "hi"}, "finish_reason": "stop"}],
        )
    )
    assert (parsed.text, parsed.outcome, parsed.finish_reason, parsed.model) == ("hi", "ok", "stop", "m")
    assert (parsed.prompt_tokens, parsed.completion_tokens) == (5, 2)


def test_content_parts_null_content_and_length() -> None:
    parts = parse_chat_body(
        body(
            choices=[{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]
        )
    )
    assert (parts.text, parts.outcome) == ("ab", "ok")
    null = parse_chat_body(body(choices=[{"message": {"content": None}, "finish_reason": "stop"}]))
    assert (null.text, null.outcome) == ("", "empty")
    cut = parse_chat_body(body(choices=[{"message": {"content": "def f("}, "finish_reason": "length"}]))
    assert cut.outcome == "truncated"


def test_bad_usage_values_are_ignored() -> None:
    parsed = parse_chat_body(
        body(usage={"prompt_tokens": -1, "completion_tokens": "7"}, choices=[{"message": {"content": "x"}}])
    )
    assert (parsed.prompt_tokens, parsed.completion_tokens) == (None, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (body(choices=[]), "no choices"),
        (body(choices=["x"]), "no choices"),
        (body(choices=[{"text": "legacy"}]), "no message"),
        (body(choices=[{"message": {"content": 42}}]), "unexpected type int"),
    ],
)
def test_malformed_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedReply, match=message):
        parse_chat_body(raw)
