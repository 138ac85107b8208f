"""Read a chat-completions response body defensively.

OpenAI-compatible servers differ (llama.cpp, Ollama, vLLM, proxies) and some break under load, so the
body is parsed by hand rather than trusted: anything without a usable first choice is `malformed`, a
blank message is `empty`, a reply cut by max_tokens is `truncated`. The loop records these outcomes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.reflexion.models import CompletionOutcome


class MalformedReply(ValueError):
    """The body is not a chat completion we can read."""


@dataclass(frozen=True)
class ParsedReply:
    text: str
    finish_reason: str | None
    outcome: CompletionOutcome
    prompt_tokens: int | None
    completion_tokens: int | None
    model: str | None


def _token_count(usage: object, key: str) -> int | None:
    if isinstance(usage, dict):
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _content_text(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as some servers send
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    raise MalformedReply(f"message content has unexpected type {type(content).__name__}")


def parse_chat_body(raw: bytes) -> ParsedReply:
    """Parse a non-streaming chat completion body; raise MalformedReply when it is not one."""
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        snippet = raw[:80].decode("utf-8", "replace")
        raise MalformedReply(f"response body is not valid JSON: {snippet!r}") from exc
    if not isinstance(data, dict):
        raise MalformedReply("response body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply("response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedReply("first choice has no message")
    text = _content_text(message.get("content"))
    finish = choices[0].get("finish_reason")
    finish_reason = finish if isinstance(finish, str) else None
    outcome: CompletionOutcome = "ok"
    if finish_reason == "length":
        outcome = "truncated"
    elif not text.strip():
        outcome = "empty"
    usage = data.get("usage")
    model = data.get("model")
    return ParsedReply(
        text=text,
        finish_reason=finish_reason,
        outcome=outcome,
        prompt_tokens=_token_count(usage, "prompt_tokens"),
        completion_tokens=_token_count(usage, "completion_tokens"),
        model=model if isinstance(model, str) else None,
    )
