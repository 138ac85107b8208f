"""Run the real app with uvicorn on a free loopback port inside the test's event loop.

Tests then talk to it with httpx over real HTTP, so middleware, exception handlers, streaming (SSE)
and the lifespan all run exactly as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.fixtures.services import free_port


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
