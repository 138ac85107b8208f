"""`POST /v1/chat/completions` and `GET /v1/models`: a Reflexion episode behind OpenAI's chat API.

The model `reflexion` (the default actor) or `reflexion/<name>` (a configured model) runs an
episode on the task in the last user message and answers with the judged, repaired code. This is
not a proxy: any other model name is 404. The episode goes through the same store and queue as
`POST /v1/episodes` (same tenant, quota and workers); a client that goes away cancels it. Errors
are OpenAI's shape, since that is what OpenAI's SDKs parse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute

from app.api import chat_reply
from app.api.chat_request import actor_of, episode_input, refuse_unsupported
from app.api.chat_task import ChatTask
from app.api.deps import Services, ServicesDep, TenantDep
from app.api.openai_schemas import ERRORS, MODEL_PREFIX, ChatRequest, ModelCard, ModelList, OpenAIError
from app.api.problems import validation_detail
from app.api.routes.episodes import enqueue
from app.api.routes.events import episode_events
from app.errors import ReflexionError
from app.reflexion.models import Episode


class OpenAIRoute(APIRoute):
    """Every error of these routes, including FastAPI's own validation and the auth dependency's,
    answered in OpenAI's shape (validation is 400 there, with the parameter named)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def openai_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                summary, items = validation_detail(exc.errors())
                param = items[0]["field"] if items and items[0]["field"] != "body" else None
                return OpenAIError(400, summary, param=param, code="invalid_value").response()
            except ReflexionError as exc:
                return OpenAIError.of(exc).response()
            except OpenAIError as exc:
                return exc.response()

        return openai_errors


router = APIRouter(tags=["openai-compatible"], route_class=OpenAIRoute, responses=ERRORS)


@router.get("/models", response_model=ModelList, summary="Models this service answers as (OpenAI-style)")
async def list_models(services: ServicesDep, tenant: TenantDep) -> ModelList:
    now = int(time.time())
    names = [MODEL_PREFIX] + [f"{MODEL_PREFIX}/{n}" for n in services.models.names()]
    return ModelList(data=[ModelCard(id=n, created=now) for n in names])


@router.post(
    "/chat/completions",
    summary="Run an episode on the task in the last user message",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
async def chat_completions(
    body: ChatRequest, request: Request, services: ServicesDep, tenant: TenantDep
) -> Response:
    refuse_unsupported(body)
    requested = actor_of(body.model, services.models)
    chat, asked = episode_input(body)
    actor, reflector, config = services.models.choose(requested, None, asked)
    episode, _ = await enqueue(services, tenant, chat.task, config, actor=actor, reflector=reflector)
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        progress = body.rfx is not None and body.rfx.progress_in_content
        stream = _stream(services, episode, chat, body.model, include_usage, progress)
        headers = {"Cache-Control": "no-cache"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    finished = await _wait_unless_gone(request, services, episode)
    if finished is None:
        return Response(status_code=499)
    return JSONResponse(chat_reply.completion(finished, chat, body.model))


async def _finished(services: Services, episode: Episode) -> Episode:
    async for _event in episode_events(services.store, episode.tenant, episode.id):
        pass
    return await services.store.get(episode.tenant, episode.id)


async def _wait_unless_gone(request: Request, services: Services, episode: Episode) -> Episode | None:
    """The finished episode; None (and the episode cancelled) when the client went away first."""
    waiter = asyncio.ensure_future(_finished(services, episode))
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=1.0)
            if done:
                return waiter.result()
            if await request.is_disconnected():
                await services.store.request_cancel(episode.tenant, episode.id)
                return None
    finally:
        waiter.cancel()  # no follower outlives its request


async def _stream(
    services: Services, episode: Episode, chat: ChatTask, model: str, include_usage: bool, progress: bool
) -> AsyncIterator[str]:
    out = chat_reply.ChunkWriter(episode.id, model)
    finished = False
    try:
        started = {"episode_id": episode.id, "status": "queued"}
        yield out.chunk({"role": "assistant", "content": ""}, rfx=started)
        async for event in episode_events(services.store, episode.tenant, episode.id):
            if event.type != "attempt.judged":
                continue
            current = await services.store.get(episode.tenant, episode.id)
            trial = event.data.get("trial")
            attempt = next((a for a in reversed(current.attempts) if a.trial == trial), None)
            if attempt is None:  # redone after a worker crash: its record moved on, the next event tells
                continue
            summary = chat_reply.trial_summary(attempt)
            delta = {"content": chat_reply.progress_line(summary)} if progress else {}
            yield out.chunk(delta, rfx={"episode_id": episode.id, "trial": summary})
        final = await services.store.get(episode.tenant, episode.id)
        finished = True
        content = chat_reply.content_of(final)
        if content:
            yield out.chunk({"content": ("\n" if progress else "") + content})
        yield out.chunk({}, finish="stop", rfx=chat_reply.rfx_field(final, chat))
        if include_usage:
            yield out.chunk({}, usage=chat_reply.usage_of(final), choices=False)
        yield "data: [DONE]\n\n"
    finally:
        if not finished:  # the client went away (or the server stops): do not leave the work running
            with anyio.CancelScope(shield=True):
                await services.store.request_cancel(episode.tenant, episode.id)
