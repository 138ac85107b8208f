"""`rfx serve` (the HTTP API) and `rfx worker` (runs queued episodes), configured by the `RFX_` env.

Without `RFX_API_KEYS` every caller would be the `default` tenant with full access, so `rfx serve`
then binds to loopback only, whatever `--host` says, and says so.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from app.errors import InvalidInput

if TYPE_CHECKING:  # the service (FastAPI, Redis, Docker) loads when a command runs, not for --help
    from app.settings import Settings

LOOPBACK = "127.0.0.1"
WITH_WORKER_HELP = "also run a queue worker in this process (one-process local setup)"
PROCESSES_HELP = "API server processes sharing the port (stateless: all state is in Redis)"
CONCURRENCY_HELP = "episodes a worker runs at once (default RFX_WORKER_CONCURRENCY)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("rfx").setLevel(logging.INFO)
    for chatty in ("httpx", "httpx2", "openai"):  # one line per LLM request drowns the worker's own log
        logging.getLogger(chatty).setLevel(logging.WARNING)


def bind_host(settings: Settings, host: str | None) -> str:
    """The host to bind: as asked, except loopback when no API keys are configured."""
    from app.api.auth import ApiKeys

    wanted = host or settings.host
    if ApiKeys.parse(settings.api_keys).enabled:
        return wanted
    if not _is_loopback(wanted):
        typer.echo(
            f"rfx serve: no RFX_API_KEYS configured: binding to {LOOPBACK} instead of {wanted} "
            "(set RFX_API_KEYS=tenant=key,... to serve other hosts)",
            err=True,
        )
        return LOOPBACK
    typer.echo(
        "rfx serve: no RFX_API_KEYS configured: loopback only, every caller is tenant 'default'", err=True
    )
    return wanted


def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (default RFX_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="port (default RFX_PORT, 8000)")] = None,
    with_worker: Annotated[bool, typer.Option("--with-worker", help=WITH_WORKER_HELP)] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, max=1000, help=CONCURRENCY_HELP)] = None,
    processes: Annotated[int, typer.Option(min=1, max=64, help=PROCESSES_HELP)] = 1,
) -> None:
    """Serve the HTTP API (/v1, /mcp, /healthz, /readyz, /metrics, /ui)."""
    import uvicorn

    from app.api.background import BackgroundTasks
    from app.llm.local_fallback import configured_or_local
    from app.main import create_served_app
    from app.settings import get_settings

    if processes > 1 and with_worker:
        raise InvalidInput(
            "--processes > 1 serves the API only: run `rfx worker` beside it, not --with-worker"
        )
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    if with_worker:
        settings = configured_or_local(settings)
    bind = bind_host(settings, host)
    _logging(verbose=True)
    the_port = port or settings.port
    typer.echo(
        f"rfx serve: http://{bind}:{the_port}/v1 (docs at /docs)"
        + (" with an in-process worker" if with_worker else "")
        + (f" in {processes} processes" if processes > 1 else ""),
        err=True,
    )
    if processes > 1:  # each process builds its app from the same RFX_ environment
        uvicorn.run(
            "app.main:create_served_app",
            factory=True,
            workers=processes,
            host=bind,
            port=the_port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        return
    app = create_served_app(settings, with_worker=with_worker)
    server = uvicorn.Server(
        uvicorn.Config(app, host=bind, port=the_port, log_level="warning", timeout_graceful_shutdown=5)
    )
    background: BackgroundTasks = app.state.background
    background.request_exit = lambda: setattr(server, "should_exit", True)
    server.run()
    background.raise_if_failed()  # a dead worker ends the process non-zero, for its supervisor


def worker(
    concurrency: Annotated[int | None, typer.Option(min=1, max=1000, help=CONCURRENCY_HELP)] = None,
    name: Annotated[str | None, typer.Option(help="consumer name (default host-pid-random)")] = None,
) -> None:
    """Run queued episodes until SIGTERM/SIGINT (then finish or hand back the running ones)."""
    from app.gc_freeze import freeze_startup_heap
    from app.llm.local_fallback import configured_or_local
    from app.queue.runner import start_worker
    from app.settings import get_settings

    settings = configured_or_local(get_settings())
    _logging(verbose=True)

    async def main() -> None:
        freeze_startup_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await start_worker(settings, stop, concurrency=concurrency, consumer=name)

    # uvloop, as uvicorn uses for `rfx serve --with-worker`: a worker with hundreds of episodes in
    # flight is mostly event-loop work (sockets to Redis and the LLM, the sandboxes' pipes).
    try:
        import uvloop
    except ImportError:  # not installed on this platform
        asyncio.run(main())
    else:
        uvloop.run(main())


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.command()(serve)
    app.command()(worker)
