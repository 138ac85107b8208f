"""The FastAPI application factory.

`create_app(settings)` builds an app from explicit settings (tests pass their own Redis and key
prefix) or from the `RFX_` environment. Everything a route needs is built once here (`Services`);
the lifespan closes it. `with_worker=True` runs a queue worker in the same process (`rfx serve
--with-worker`), a one-process local setup that still goes through the durable queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from redis.exceptions import RedisError
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__
from app.api import health, metrics, problems
from app.api.auth import ApiKeys
from app.api.background import BackgroundTasks
from app.api.catalog import RegistryCatalog, document_models
from app.api.deps import Services
from app.api.judge_gate import ClosableJudge, JudgeGate
from app.api.limits import BodyLimit
from app.api.routes import episodes, events, judge, memory, openai_compat, ui
from app.gc_freeze import freeze_startup_heap
from app.llm.local_model import installed_here
from app.llm.providers import ModelRegistry
from app.mcp.http import PATH as MCP_PATH
from app.mcp.http import McpEndpoint
from app.memory.episodes import EpisodeStore
from app.memory.keys import Keys
from app.memory.redis_memory import RedisMemory
from app.queue.connection import redis_client
from app.queue.stream import JobStream
from app.settings import Settings, get_settings

log = logging.getLogger("rfx.api")
# their latency is a stream's or an episode's life, not the API's
STREAMS = ("/v1/episodes/{episode_id}/events", "/v1/chat/completions", MCP_PATH)


class RequestTimer:
    """Records each request's latency by route template (not raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                if path not in STREAMS:  # streams: latency is the stream's life
                    metrics.HTTP_LATENCY.labels(path, scope["method"], str(status[0])).observe(
                        time.perf_counter() - start
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)


def build_services(settings: Settings) -> Services:
    client = redis_client(settings)
    keys = Keys(settings.key_prefix)

    async def make_judge() -> ClosableJudge:  # the API's own small pool, apart from the workers'
        from app.wiring import open_judge  # the Docker client loads only when used

        return await open_judge(settings.model_copy(update={"judge_workers": settings.api_judge_workers}))

    services = Services(
        settings=settings,
        redis=client,
        keys=keys,
        store=EpisodeStore(client, keys, ttl_s=settings.episode_ttl_s),
        api_keys=ApiKeys.parse(settings.api_keys),
        models=RegistryCatalog(ModelRegistry.from_settings(settings), installed_here(settings.data_dir)),
        memory=RedisMemory(client, keys, episode_ttl_s=settings.episode_ttl_s),
        judge_gate=JudgeGate(
            client,
            keys,
            per_minute=settings.quota_judge_per_min,
            workers=settings.api_judge_workers,
            waiting=settings.api_judge_waiting,
            make_judge=make_judge,
        ),
        observe_judge=metrics.observe_judge,
    )
    return services


def create_served_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    """The app of an `rfx serve` process (also uvicorn's factory for --processes N), with its
    start-up heap frozen."""
    app = create_app(settings, with_worker=with_worker)
    freeze_startup_heap()
    return app


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    settings = settings or get_settings()
    services = build_services(settings)
    mcp_endpoint = McpEndpoint(services)
    readiness = health.DockerReadiness(settings)  # hashes sandbox/ now, never per /readyz call

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(RedisError, OSError, TimeoutError):  # Redis down: /readyz says so
            await asyncio.wait_for(JobStream(services.redis, services.keys).ensure_group(), 2)
        with contextlib.suppress(TimeoutError):  # the sandbox image's tag, once (engine down: later)
            await asyncio.wait_for(asyncio.to_thread(readiness.start), health.CHECK_TIMEOUT_S + 1)
        worker_task: asyncio.Task[None] | None = None
        stop = asyncio.Event()
        background: BackgroundTasks = app.state.background
        background.stopping = False
        if with_worker:
            from app.queue.runner import start_worker

            worker_task = asyncio.create_task(start_worker(settings, stop), name="worker")
            background.watch(worker_task)
        try:
            async with mcp_endpoint.manager.run():
                yield
        finally:
            background.stopping = True
            stop.set()
            if worker_task is not None:
                # its failure was logged and recorded when it ended; `rfx serve` exits non-zero on it
                await asyncio.gather(worker_task, return_exceptions=True)
            await services.judge_gate.aclose()
            await services.redis.aclose()
            readiness.close()

    app = FastAPI(
        title="reflexion-service",
        version=__version__,
        description=(
            "Reflexion episodes for code generation: actor LLM, sandboxed judge, reflector LLM, memory."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.redis = services.redis
    app.state.docker_readiness = readiness
    app.state.background = BackgroundTasks()
    problems.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ui.router)
    for module in (episodes, events, judge, memory, openai_compat):
        app.include_router(module.router, prefix="/v1")
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_models(base_openapi(), services.models.names())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # an ASGI endpoint (the SDK's transport), as a Route so that exactly /mcp matches (no redirect)
    app.router.routes.append(Route(MCP_PATH, mcp_endpoint, methods=["GET", "POST", "DELETE"]))
    routes = openai_compat.router.routes
    openai_paths = frozenset(f"/v1{route.path}" for route in routes if isinstance(route, APIRoute))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, openai_paths=openai_paths)
    app.add_middleware(RequestTimer)
    return app
