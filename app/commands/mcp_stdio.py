"""`rfx mcp`: the MCP server over stdio, for MCP clients that start their servers as commands.

Given `--url`/`RFX_URL` (and `--api-key`/`RFX_API_KEY`) the tools act on that running server as the
key's tenant. Given neither, they act in this process with the settings `rfx run` uses (Redis from
`RFX_REDIS_URL`, the configured or bundled model, the local Docker judge) as tenant `default`, with
a queue worker in the process, so episodes survive the same way and `rfx episodes` sees them.
stdout carries the protocol: everything else goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Annotated, Any

import typer

from app.errors import InvalidInput

UrlOpt = Annotated[
    str | None, typer.Option("--url", envvar="RFX_URL", help="a running server (default: in-process)")
]
KeyOpt = Annotated[
    str | None, typer.Option("--api-key", envvar="RFX_API_KEY", help="API key for --url (Bearer)")
]


def mcp(url: UrlOpt = None, api_key: KeyOpt = None) -> None:
    """Serve the MCP tools (judge, run_episode, get/list/cancel_episode) and resources over stdio."""
    if api_key and not url:
        raise InvalidInput("--api-key needs --url (in-process, every call is tenant 'default')")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="rfx mcp: %(levelname)s %(message)s")
    asyncio.run(_remote(url, api_key) if url else _in_process())


async def _serve(backend: Any) -> None:
    from mcp.server.stdio import stdio_server

    from app.mcp.server import build_server

    server = build_server(lambda ctx: backend)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def _remote(url: str, api_key: str | None) -> None:
    from app.mcp.remote import RemoteBackend

    backend = RemoteBackend(url, api_key)
    try:
        await backend.check()
        await _serve(backend)
    finally:
        await backend.aclose()


async def _in_process() -> None:
    from app.api.auth import DEFAULT_TENANT
    from app.llm.local_fallback import configured_or_local
    from app.main import build_services
    from app.mcp.backend import ServiceBackend
    from app.queue.runner import start_worker
    from app.settings import get_settings

    settings = configured_or_local(get_settings())
    services = build_services(settings)
    try:
        await services.memory.ping()
        stop = asyncio.Event()
        worker = asyncio.create_task(start_worker(settings, stop))
        try:
            await _serve(ServiceBackend(services, DEFAULT_TENANT))
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await worker
    finally:
        await services.judge_gate.aclose()
        await services.redis.aclose()


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.command("mcp")(mcp)
