"""OpenAIChatModel: the ChatModel port over any OpenAI-compatible endpoint, via the `openai` SDK.

The SDK does the transport work that is easy to get wrong: per-attempt timeout, retries with
exponential backoff and jitter on 429/408/409/5xx and connection errors, honouring `Retry-After`.
This adapter adds what the loop needs on top: an optional deadline for the whole call (retries and
Retry-After waits included); it never raises for an LLM fault (it returns a Completion whose
`outcome` and `error` say what happened); it counts tokens and cost; and it lets
asyncio.CancelledError through so a cancelled episode stops at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import openai

from app.llm.config import ProviderConfig
from app.llm.pricing import cost_usd
from app.llm.replies import MalformedReply, parse_chat_body
from app.llm.tokens import approx_tokens
from app.reflexion.models import ChatMessage, Completion, Usage

# Local servers ignore the key, but the SDK refuses to start without one; a placeholder also keeps
# the SDK from picking up OPENAI_API_KEY from the environment and sending it to another endpoint.
NO_KEY = "not-needed"


class OpenAIChatModel:
    """One model on one endpoint. Create once and reuse: it holds an HTTP connection pool."""

    def __init__(self, config: ProviderConfig, *, client: openai.AsyncOpenAI | None = None) -> None:
        self.config = config
        key = config.api_key.get_secret_value() if config.api_key is not None else NO_KEY
        self._client = client or openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=key or NO_KEY,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            default_headers=config.extra_headers or None,
            # The SDK's aiohttp transport: with hundreds of calls in flight (a worker running 200
            # episodes) httpx's pool scans every connection per request and response close, a CPU
            # cost per call that aiohttp's pool does not have (bench/llm_transport.py).
            http_client=openai.DefaultAioHttpClient(),
        )

    @property
    def name(self) -> str:
        return self.config.name

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.config.describe()})"

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> OpenAIChatModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float = 0.0,
        top_p: float | None = None,
        max_tokens: int = 1024,
        seed: int | None = None,
    ) -> Completion:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": temperature,
            self.config.max_tokens_param: max_tokens,
        }
        if top_p is not None:
            body["top_p"] = top_p
        if seed is not None:
            body["seed"] = seed
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.config.deadline_s):
                # The SDK's generic POST (its documented way to call any endpoint): the same client,
                # retries, Retry-After, timeouts and headers as chat.completions.create, without
                # create()'s typed-parameter transform, which walks every message through the
                # TypedDict unions, a large share of each call's CPU (bench/llm_transport.py).
                response = await self._client.post("/chat/completions", cast_to=httpx2.Response, body=body)
            content = response.content
        except TimeoutError:  # our deadline; an outside cancellation stays a CancelledError
            return self._failed(started, f"deadline: no usable reply within {self.config.deadline_s:g}s")
        except openai.APITimeoutError as exc:
            refused = _connect_failure(exc)
            if refused is not None:
                return self._failed(started, f"cannot reach {self.config.base_url}: {refused}")
            attempts = self.config.max_retries + 1
            return self._failed(
                started,
                f"timeout: no reply within {self.config.timeout_s:g}s "
                f"({attempts} attempt{'s' if attempts > 1 else ''})",
            )
        except openai.APIStatusError as exc:
            retried = f" (retry budget {self.config.max_retries})" if _retryable(exc.status_code) else ""
            return self._failed(started, f"HTTP {exc.status_code}{retried}: {_status_message(exc)}")
        except openai.APIConnectionError as exc:
            reason = _short(str(exc.__cause__ or exc))
            return self._failed(started, f"cannot reach {self.config.base_url}: {reason}")
        except openai.OpenAIError as exc:
            return self._failed(started, f"{type(exc).__name__}: {_short(str(exc))}")
        return self._completion(started, messages, content)

    def _completion(self, started: float, messages: list[ChatMessage], body: bytes) -> Completion:
        latency_ms = (time.monotonic() - started) * 1000
        try:
            parsed = parse_chat_body(body)
        except MalformedReply as exc:
            return Completion(
                outcome="malformed", error=str(exc), model=self.config.model, latency_ms=latency_ms
            )
        prompt_tokens = parsed.prompt_tokens
        if prompt_tokens is None:  # some local servers omit usage: estimate so token budgets still work
            prompt_tokens = sum(approx_tokens(m.content) for m in messages)
        completion_tokens = parsed.completion_tokens
        if completion_tokens is None:
            completion_tokens = approx_tokens(parsed.text)
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost_usd(self.config, prompt_tokens, completion_tokens),
        )
        error = None
        if parsed.outcome == "empty":
            error = "the model returned an empty reply"
        elif parsed.outcome == "truncated":
            error = "the reply was cut off by max_tokens (finish_reason=length)"
        return Completion(
            text=parsed.text,
            outcome=parsed.outcome,
            finish_reason=parsed.finish_reason,
            error=error,
            model=parsed.model or self.config.model,
            usage=usage,
            latency_ms=latency_ms,
        )

    def _failed(self, started: float, error: str) -> Completion:
        return Completion(
            outcome="error",
            error=f"{self.config.name}: {error}",
            model=self.config.model,
            latency_ms=(time.monotonic() - started) * 1000,
        )


def _connect_failure(exc: BaseException) -> str | None:
    """The reason when a "timeout" was really a failed connection (refused, no route, DNS).

    The SDK's aiohttp transport maps every aiohttp connection error to ConnectTimeout, so a refused
    connection would read "no reply within 10s". The OSError that is not a timeout in the cause
    chain tells them apart (the SDK retried it either way, as it does both).
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return _short(str(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _retryable(status: int) -> bool:
    """The statuses the SDK retries (see openai._base_client._should_retry)."""
    return status in (408, 409, 429) or status >= 500


def _status_message(exc: openai.APIStatusError) -> str:
    """The provider's own error message when the body has one, not the SDK's wrapper text."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return _short(inner["message"])
    return _short(exc.message)


def _short(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
