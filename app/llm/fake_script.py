"""The script and request log of the fake OpenAI-compatible server (app/llm/fake_server.py).

Tests and benchmarks must exercise the real HTTP path of the LLM adapters, including the faults a
real provider produces (429 with Retry-After, 5xx, hangs, broken bodies, cut replies). A script is an
ordered list of rules; the first rule whose model and pattern match a request answers it with the
next reply of its sequence. Everything here is plain data plus a lock, so the server thread and the
test thread can share it safely.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.llm.tokens import approx_tokens

__all__ = ["FaultKind", "ReceivedRequest", "Reply", "Rule", "Script", "ScriptState", "approx_tokens"]

FaultKind = Literal["rate_limit", "server_error", "hang", "malformed", "no_choices", "empty", "truncated"]


class Reply(BaseModel):
    """One scripted answer: a text, or a fault the client must survive."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    fault: FaultKind | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    hang_s: float = Field(default=30.0, ge=0)
    latency_s: float | None = Field(default=None, ge=0)
    finish_reason: str | None = None
    omit_usage: bool = False  # some local servers send no usage block

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0) -> Reply:
        return cls(fault="rate_limit", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(fault="server_error", status=status)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        return cls(fault="hang", hang_s=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(fault="malformed")

    @classmethod
    def empty(cls) -> Reply:
        return cls(fault="empty")

    @classmethod
    def truncated(cls, text: str) -> Reply:
        return cls(fault="truncated", text=text)

    def error_status(self) -> int | None:
        """The HTTP status this reply answers with, when it is an error reply."""
        if self.status is not None:
            return self.status
        if self.fault == "rate_limit":
            return 429
        if self.fault == "server_error":
            return 500
        return None

    def content(self) -> str:
        return "" if self.fault == "empty" else self.text

    def finish(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "length" if self.fault == "truncated" else "stop"


class Rule(BaseModel):
    """Answer requests whose model and text match, with `replies` in order (the last one repeats).

    `model` is an exact name or a glob; `pattern` is a regex searched in the last user message, or in
    every message with `match_on="any"`. `times` (or `once`) retires the rule after that many answers.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    pattern: str | None = None
    match_on: Literal["last_user", "any"] = "last_user"
    replies: list[Reply] = Field(min_length=1)
    times: int | None = Field(default=None, ge=1)
    once: bool = False
    latency_s: float = Field(default=0.0, ge=0)

    @field_validator("replies", mode="before")
    @classmethod
    def _texts_are_replies(cls, value: object) -> object:
        if isinstance(value, (str, Reply, dict)):
            value = [value]
        if isinstance(value, list):
            return [Reply(text=v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value

    def limit(self) -> int | None:
        return 1 if self.once else self.times

    def matches(self, model: str, messages: list[dict[str, Any]]) -> bool:
        if self.model is not None and not fnmatch.fnmatchcase(model, self.model):
            return False
        if self.pattern is None:
            return True
        if self.match_on == "any":
            haystack = "\n".join(message_text(m) for m in messages)
        else:
            haystack = last_user_text(messages)
        return re.search(self.pattern, haystack, re.DOTALL) is not None


class Script(BaseModel):
    """The whole behaviour of the fake server: rules in order, a default reply, a base latency."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    default: Reply = Field(default_factory=lambda: Reply(text="(fake server: no scripted reply)"))
    latency_s: float = Field(default=0.0, ge=0)

    @field_validator("default", mode="before")
    @classmethod
    def _text_is_reply(cls, value: object) -> object:
        return Reply(text=value) if isinstance(value, str) else value


class ReceivedRequest(BaseModel):
    """One request as the fake server received it, so tests can assert what the model was shown."""

    index: int
    path: str
    model: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    received_at: float
    rule: int | None = None

    @property
    def last_user(self) -> str:
        return last_user_text(self.messages)

    @property
    def text(self) -> str:
        return "\n".join(message_text(m) for m in self.messages)

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


def message_text(message: dict[str, Any]) -> str:
    """Content as text, whether a string or a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


class ScriptState:
    """The live script, per-rule hit counts and the request log, guarded by one lock."""

    def __init__(self, script: Script | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = script or Script()
        self._script = self._initial.model_copy(deep=True)
        self._hits: list[int] = [0] * len(self._script.rules)
        self._log: list[ReceivedRequest] = []

    def set_script(self, script: Script, *, append: bool = False) -> None:
        with self._lock:
            if append:
                self._script.rules.extend(script.rules)
                self._hits.extend([0] * len(script.rules))
            else:
                self._script = script
                self._hits = [0] * len(script.rules)

    def reset(self) -> None:
        """Back to the script the server started with, and an empty log."""
        with self._lock:
            self._script = self._initial.model_copy(deep=True)
            self._hits = [0] * len(self._script.rules)
            self._log.clear()

    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._log)

    def models(self) -> list[str]:
        with self._lock:
            names = {r.model for r in self._script.rules if r.model and not any(c in r.model for c in "*?[")}
        return sorted(names)

    def record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[Reply, float]:
        """Log the request, pick its reply, and return it with the latency to apply before answering."""
        model = str(body.get("model") or "")
        raw_messages = body.get("messages")
        messages = [m for m in raw_messages if isinstance(m, dict)] if isinstance(raw_messages, list) else []
        params = {k: v for k, v in body.items() if k not in ("model", "messages")}
        with self._lock:
            chosen, rule_index, latency = self._choose(model, messages)
            self._log.append(
                ReceivedRequest(
                    index=len(self._log),
                    path=path,
                    model=model,
                    messages=messages,
                    params=params,
                    stream=bool(body.get("stream")),
                    headers=headers,
                    received_at=time.time(),
                    rule=rule_index,
                )
            )
        if chosen.latency_s is not None:
            latency = chosen.latency_s
        return chosen, latency

    def _choose(self, model: str, messages: list[dict[str, Any]]) -> tuple[Reply, int | None, float]:
        for index, rule in enumerate(self._script.rules):
            limit = rule.limit()
            if limit is not None and self._hits[index] >= limit:
                continue
            if not rule.matches(model, messages):
                continue
            hit = self._hits[index]
            self._hits[index] = hit + 1
            reply = rule.replies[min(hit, len(rule.replies) - 1)]
            return reply, index, self._script.latency_s + rule.latency_s
        return self._script.default, None, self._script.latency_s
