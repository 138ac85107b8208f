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
from pydantic import ValidationError

from app.api import chat_reply
from app.api.chat_task import ChatTask, read_task
from app.api.deps import Services, ServicesDep, TenantDep
from app.api.openai_schemas import ERRORS, MODEL_PREFIX, ChatRequest, ModelCard, ModelList, OpenAIError
from app.api.problems import validation_detail
from app.api.routes.events import episode_events
from app.errors import ReflexionError
from app.memory.episodes import new_episode_id
from app.reflexion.models import Episode, EpisodeConfig, Task

_PARAMS = ("temperature", "top_p", "seed")


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
    _refuse_unsupported(body)
    actor = _actor(body.model, services)
    chat, config = _episode_input(body)
    episode = Episode(
        id=new_episode_id(),
        tenant=tenant,
        task=chat.task,
        config=config,
        actor_model=actor,
        reflector_model=services.models.reflector(None),
    )
    await services.store.create(
        episode, quota=services.settings.quota_episodes, queue_max=services.settings.queue_max
    )
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


def _refuse_unsupported(body: ChatRequest) -> None:
    refused = body.refused()
    if refused is not None:
        raise OpenAIError(
            400,
            f"{refused} is not supported: this model answers with one judged, repaired code reply",
            param=refused,
            code="unsupported_parameter",
        )


def _validation(exc: ValidationError, prefix: str) -> OpenAIError:
    error = exc.errors()[0]
    param = prefix + ".".join(str(p) for p in error["loc"])
    return OpenAIError(400, f"{param}: {error['msg']}", param=param or None, code="invalid_value")


def _actor(model: str, services: Services) -> str:
    if model == MODEL_PREFIX:
        return services.models.actor(None)
    name = model.removeprefix(MODEL_PREFIX + "/")
    if model.startswith(MODEL_PREFIX + "/") and name in services.models.names():
        return services.models.actor(name)
    raise OpenAIError(
        404,
        f"the model {model!r} does not exist here: this service answers only as 'reflexion' or "
        f"'reflexion/<configured model>' (GET /v1/models lists them); it is not a proxy",
        param="model",
        code="model_not_found",
    )


def _episode_input(body: ChatRequest) -> tuple[ChatTask, EpisodeConfig]:
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise OpenAIError(400, "messages: no user message holds a task", param="messages")
    rfx = body.rfx
    chat = read_task(users[-1].text(), tests=rfx.tests if rfx else None)
    if rfx is not None and rfx.task is not None:
        fields = rfx.task.model_dump(exclude_none=True)
        try:
            task = Task.model_validate({**chat.task.model_dump(), **fields})
        except ValidationError as exc:
            raise _validation(exc, "rfx.task.") from None
        chat = ChatTask(task, chat.feedback, chat.tests_source)
    base = rfx.config if rfx is not None and rfx.config is not None else EpisodeConfig()
    values = base.model_dump(exclude_unset=True)
    values.setdefault("feedback", chat.feedback)
    for name in _PARAMS:
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        values["max_tokens"] = max_tokens
    system = [m.text() for m in body.messages if m.role in ("system", "developer") and m.text().strip()]
    if system:
        values["instructions"] = "\n\n".join([*system, values.get("instructions", "")]).strip()
    try:
        return chat, EpisodeConfig.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        param = field if field in (*_PARAMS, "max_tokens") else f"rfx.config.{field}"
        raise OpenAIError(400, f"{param}: {error['msg']}", param=param, code="invalid_value") from None


async def _finished(services: Services, episode: Episode) -> Episode:
    async for _event in episode_events(services.store, episode.tenant, episode.id):
        pass
    return await services.store.get(episode.tenant, episode.id)


async def _wait_unless_gone(request: Request, services: Services, episode: Episode) -> Episode | None:
    """The finished episode; None (and the episode cancelled) when the client went away first."""
    waiter = asyncio.ensure_future(_finished(services, episode))
    while True:
        done, _ = await asyncio.wait({waiter}, timeout=1.0)
        if done:
            return waiter.result()
        if await request.is_disconnected():
            waiter.cancel()
            await services.store.request_cancel(episode.tenant, episode.id)
            return None


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
