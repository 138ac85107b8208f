"""The project's own OpenAI-compatible fake server: real HTTP for tests, benchmarks and compose.

Mocks would skip the code that matters (the SDK's retries, timeouts, parsing), so tests talk to this
server over a loopback socket instead. It serves `POST /v1/chat/completions` (plain and SSE
streaming) and `GET /v1/models`, answers from a script (app/llm/fake_script.py), and logs every
request. Out-of-process users script it over HTTP: `POST /_fake/script`, `GET /_fake/requests`,
`POST /_fake/reset`.

In-process: `with FakeLLMServer() as llm: llm.script(Rule(...)); ... llm.requests`.
Standalone: `python -m app.llm.fake_server --port 9000 [--host 0.0.0.0] [--script S.json] [--latency S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.gc_freeze import freeze_startup_heap
from app.llm.config import ProviderConfig
from app.llm.fake_script import ReceivedRequest, Reply, Rule, Script, ScriptState, approx_tokens

STREAM_CHUNK_CHARS = 16


def _error(
    status: int, message: str, *, kind: str = "fake_error", headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


def _problem(status: int, detail: str) -> Response:
    body = {"type": "about:blank", "title": "Invalid script", "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt_text = json.dumps(body.get("messages", []))
    prompt = approx_tokens(prompt_text)
    completion = approx_tokens(text)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion_body(reply: Reply, model: str, usage: dict[str, int]) -> dict[str, Any]:
    content = reply.content()
    choices = (
        []
        if reply.fault == "no_choices"
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": reply.finish(),
                "logprobs": None,
            }
        ]
    )
    return {
        "id": f"chatcmpl-fake-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        **({} if reply.omit_usage else {"usage": usage}),
    }


def _sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"data: {payload}\n\n".encode()


async def _stream(
    reply: Reply, model: str, usage: dict[str, int], include_usage: bool
) -> AsyncIterator[bytes]:
    """OpenAI's chunk format: a role delta, content deltas, a finish chunk, optional usage, [DONE]."""
    if reply.fault == "malformed":
        yield b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "trunc\n\n'
        return
    base = {
        "id": f"chatcmpl-fake-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield _sse(chunk({"role": "assistant", "content": ""}, None))
    text = reply.content()
    for start in range(0, len(text), STREAM_CHUNK_CHARS):
        yield _sse(chunk({"content": text[start : start + STREAM_CHUNK_CHARS]}, None))
        await asyncio.sleep(0)
    yield _sse(chunk({}, reply.finish()))
    if include_usage:
        yield _sse({**base, "choices": [], "usage": usage})
    yield _sse("[DONE]")


async def _client_left(request: Request, seconds: float) -> bool:
    """Wait up to `seconds`; stop early (True) when the client hangs up, so no handler outlives it.

    Waits for the server's `http.disconnect` message (the body is already read, so nothing else
    arrives) rather than polling `is_disconnected()`: polling 200 waiting requests every 50 ms
    cost this fake more CPU than the service under test spends, on the same cores.
    """
    try:
        async with asyncio.timeout(seconds):
            while (await request.receive())["type"] != "http.disconnect":
                pass
            return True
    except TimeoutError:
        return False


def create_fake_app(state: ScriptState) -> Starlette:
    """The ASGI app over a shared ScriptState (the in-process server and `python -m` both use it)."""

    async def chat_completions(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "request body is not valid JSON", kind="invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "body must be an object with a 'messages' list", kind="invalid_request_error")
        headers = {k.lower(): v for k, v in request.headers.items()}
        reply, latency = state.record(request.url.path, body, headers)
        if latency > 0 and await _client_left(request, latency):
            return Response(status_code=499)
        if reply.fault == "hang":
            await _client_left(request, reply.hang_s)
            return _error(504, "fake server hung for the scripted time", kind="timeout")
        status = reply.error_status()
        if status is not None:
            extra = {"retry-after": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
            kind = "rate_limit_exceeded" if status == 429 else "server_error"
            return _error(status, f"scripted fault: HTTP {status}", kind=kind, headers=extra)
        model = str(body.get("model") or "")
        usage = _usage(body, reply.content())
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            chunks = _stream(reply, model, usage, include_usage)
            return StreamingResponse(chunks, media_type="text/event-stream")
        if reply.fault == "malformed":
            broken = b'{"id": "chatcmpl-fake", "choices": [{"message": '
            return Response(broken, media_type="application/json")
        return JSONResponse(_completion_body(reply, model, usage))

    async def list_models(request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in state.models()]
        return JSONResponse({"object": "list", "data": data})

    async def set_script(request: Request) -> Response:
        try:
            script = Script.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return _problem(422, "; ".join(errors))
        state.set_script(script, append=request.query_params.get("append") in ("1", "true"))
        return JSONResponse({"rules": len(script.rules)})

    async def get_requests(request: Request) -> Response:
        return JSONResponse([r.model_dump(mode="json") for r in state.requests()])

    async def reset(request: Request) -> Response:
        state.reset()
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/_fake/script", set_script, methods=["POST"]),
            Route("/_fake/requests", get_requests, methods=["GET"]),
            Route("/_fake/reset", reset, methods=["POST"]),
        ]
    )


class FakeLLMServer:
    """The fake app served by uvicorn in a background thread, on a socket bound before start returns."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, script: Script | None = None) -> None:
        self.state = ScriptState(script)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}/v1"

    def start(self) -> FakeLLMServer:
        # uvicorn binds the port itself (port 0 = any free one, read back once it listens): handing it
        # a socket bound here made every loopback request many times slower in this process.
        config = uvicorn.Config(
            create_fake_app(self.state),
            host=self._host,
            port=self._port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-llm", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake LLM server did not start on {self._host}:{self._port}")
            time.sleep(0.01)
        self._port = int(self._server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(
        self,
        *rules: Rule | dict[str, Any],
        default: Reply | str | None = None,
        latency_s: float = 0.0,
        append: bool = False,
    ) -> None:
        """Replace (or extend) the rules; see Rule and Reply for what a rule can say."""
        parsed = [r if isinstance(r, Rule) else Rule.model_validate(r) for r in rules]
        script = Script(rules=parsed, latency_s=latency_s)
        if default is not None:
            script.default = Reply(text=default) if isinstance(default, str) else default
        self.state.set_script(script, append=append)

    def reset(self) -> None:
        self.state.reset()

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self.state.requests()

    def provider(self, model: str = "fake-model", **overrides: Any) -> ProviderConfig:
        """A ProviderConfig for `model` pointed at this server (fast timeouts, quick retries)."""
        fields: dict[str, Any] = {
            "name": model,
            "base_url": self.base_url,
            "model": model,
            "api_key": SecretStr("fake-key"),
            "timeout_s": 10.0,
            "max_retries": 2,
        }
        fields.update(overrides)
        return ProviderConfig(**fields)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m app.llm.fake_server", description="OpenAI-compatible fake LLM server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--script", type=Path, help="JSON file with a Script (rules, default, latency_s)")
    parser.add_argument("--latency", type=float, default=None, help="seconds added before every reply")
    args = parser.parse_args(argv)
    script = Script()
    if args.script is not None:
        try:
            script = Script.model_validate_json(args.script.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            parser.exit(2, f"fake_server: error: bad --script {args.script}: {' '.join(str(exc).split())}\n")
    if args.latency is not None:
        if args.latency < 0:
            parser.exit(2, "fake_server: error: --latency must be >= 0\n")
        script.latency_s = args.latency
    app = create_fake_app(ScriptState(script))
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
