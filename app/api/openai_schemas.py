"""Bodies and errors of the OpenAI-compatible routes (`/v1/chat/completions`, `/v1/models`).

Requests follow OpenAI's chat API, read leniently where OpenAI's SDKs send fields we can ignore
(`user`, `stream_options`, ...), and strictly where honouring them is impossible: `n` > 1, tools,
functions, logprobs and non-text response formats are refused with 400 naming the parameter, so a
caller never gets something other than what it asked for. Errors use OpenAI's shape
(`{"error": {"message", "type", "param", "code"}}`) because that is what its SDKs parse.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.errors import ReflexionError
from app.reflexion.models import EpisodeConfig, Strict

MODEL_PREFIX = "reflexion"
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
    503: "service_unavailable",
}


class OpenAIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers or {}

    @classmethod
    def of(cls, exc: ReflexionError, param: str | None = None) -> OpenAIError:
        """The service's own error taxonomy in OpenAI's terms (validation is 400 there, not 422)."""
        status = 400 if exc.status == 422 else exc.status
        param = getattr(exc, "param", param)
        return cls(status, exc.detail, param=param, code=exc.type.replace("-", "_"), headers=exc.headers)

    def response(self) -> JSONResponse:
        kind = _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        body = {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class TaskFields(Strict):
    """Task fields a caller may set instead of having them read from the message."""

    id: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str | None = Field(default=None, max_length=100_000)
    entry_point: str | None = Field(default=None, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class RfxOptions(Strict):
    """The request's `rfx` object (`extra_body={"rfx": {...}}` in the SDK)."""

    tests: str | list[str] | None = Field(
        default=None,
        description="a check(candidate) program or assert lines: the feedback and the grading tests",
    )
    task: TaskFields | None = None
    config: EpisodeConfig | None = None
    progress_in_content: bool = Field(
        default=False, description="streaming: also put one short line per trial into the content"
    )


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(max_length=300)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    n: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    rfx: RfxOptions | None = None

    def refused(self) -> str | None:
        """The first parameter this service cannot honour, or None."""
        if self.n is not None and self.n > 1:
            return "n"
        for name in ("tools", "tool_choice", "functions", "function_call"):
            if getattr(self, name):
                return name
        if self.logprobs or self.top_logprobs:
            return "logprobs" if self.logprobs else "top_logprobs"
        if self.response_format and self.response_format.get("type", "text") != "text":
            return "response_format"
        return None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "reflexion-service"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 429, 503)
}
