"""Request-body size limit as pure ASGI middleware.

Field limits (code, tests, prompts) are in the pydantic models; this guards the parser itself, so a
huge or endless body is refused with 413 before any of it is decoded: problem+json, except on the
OpenAI-compatible routes, whose clients parse OpenAI's error shape.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.openai_schemas import OpenAIError
from app.api.problems import PROBLEM_JSON, TYPE_BASE

DRAIN_LIMIT = 16 * 1024 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, openai_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.openai_paths = openai_paths  # answered in OpenAI's error shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await _discard(receive, limit=DRAIN_LIMIT)  # so the client reads our answer, not a reset
                await self._reject(scope, send)
                return
            await self.app(scope, receive, send)
            return
        # no Content-Length (chunked): buffer up to the limit, then replay
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            more = bool(message.get("more_body", False))
            size += len(body)
            if size > self.max_bytes:
                if more:
                    await _discard(receive, limit=DRAIN_LIMIT)
                await self._reject(scope, send)
                return
            chunks.append(body)
        await self.app(
            scope,
            _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive),
            send,
        )

    async def _reject(self, scope: Scope, send: Send) -> None:
        detail = f"request body exceeds {self.max_bytes} bytes"
        if scope.get("path", "") in self.openai_paths:
            response = OpenAIError(413, detail, code="request_too_large").response()
            await response(scope, _replay([]), send)
            return
        body = json.dumps(
            {
                "type": TYPE_BASE + "too-large",
                "title": "Request too large",
                "status": 413,
                "detail": detail,
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _discard(receive: Receive, limit: int) -> None:
    """Read and drop the rest of a refused body, up to `limit` bytes (beyond that, just hang up)."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
