"""The FastAPI application factory.

`create_app(settings)` builds an app from explicit settings (tests pass their own Redis and key
prefix) or from the `RFX_` environment; the lifespan opens the shared clients once per process and
closes them on shutdown, so routes stay thin and never construct adapters themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aredis
from fastapi import FastAPI

from app import __version__
from app.api import health, problems
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = aredis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, health_check_interval=30)
        app.state.redis = client
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(
        title="reflexion-service",
        version=__version__,
        description=(
            "Reflexion episodes for code generation: actor LLM, sandboxed judge, reflector LLM, memory."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    app.include_router(health.router)
    return app
