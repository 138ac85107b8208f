"""`rfx model`: install, serve, start, stop and inspect the bundled local model (Qwen2.5-Coder on llama.cpp).

Long steps (downloading the weights, building llama.cpp) show a rich progress display on stderr so
stdout stays clean for scripts; errors come back as ReflexionErrors that `rfx` prints as one line.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

if TYPE_CHECKING:  # the model library loads when a command runs, not for `rfx --help`
    from app.llm import local_model
    from app.llm.local_model import LocalServer

model_app = typer.Typer(
    help="The bundled local model (Qwen2.5-Coder on llama.cpp): install, serve, stop.", no_args_is_help=True
)

SizeOption = Annotated[
    str | None,
    typer.Option("--size", help="Model size: 0.5b or 1.5b (default RFX_LOCAL_MODEL_SIZE, 0.5b)."),
]
PortOption = Annotated[
    int | None,
    typer.Option("--port", min=1, max=65535, help="Loopback port (default RFX_LOCAL_MODEL_PORT, 8089)."),
]

_err = Console(stderr=True)


@contextlib.contextmanager
def progress_display() -> Iterator[local_model.Progress]:
    """A `Progress` callback for the library, rendered with rich: bars for bytes, spinners for builds."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_err, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def report(step: str, done: int, total: int | None) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            if total is None:
                bar.update(tasks[step], description=f"{step} ({done} s)")
            else:
                bar.update(tasks[step], completed=done, total=total)

        yield report


@model_app.command("install")
def install(size: SizeOption = None) -> None:
    """Download and verify the weights (pinned sha256) and build the llama.cpp runtime. Idempotent."""
    from app.llm import local_model

    started = time.monotonic()
    if local_model.is_installed(size):
        path = local_model.model_path(size)
        _err.print(f"local model {local_model.alias_for(size)} already installed")
    else:
        with progress_display() as report:
            path = local_model.install(size, report)
        _err.print(f"installed {local_model.alias_for(size)} in {time.monotonic() - started:.1f} s")
    typer.echo(str(path))


def _announce(server: LocalServer) -> None:
    _err.print(f"serving {server.alias} at {server.base_url} (pid {server.pid}); Ctrl-C stops it")


@model_app.command("serve")
def serve(size: SizeOption = None, port: PortOption = None) -> None:
    """Run the OpenAI-compatible server in the foreground on loopback until Ctrl-C."""
    from app.llm import local_model

    code = local_model.serve(size, port, _announce)
    _err.print("local model server stopped")
    if code not in (0, -2, -15):  # our own SIGINT/SIGTERM is a clean stop
        raise typer.Exit(1)


@model_app.command("start")
def start(size: SizeOption = None, port: PortOption = None) -> None:
    """Start the server in the background (or reuse the one running); prints its base URL."""
    from app.llm import local_model

    server = local_model.ensure_running(size, port)
    verb = "started" if server.started else "already running"
    _err.print(f"{server.alias} {verb} at {server.base_url} (pid {server.pid})")
    typer.echo(server.base_url)


@model_app.command("stop")
def stop(port: PortOption = None, size: SizeOption = None) -> None:
    """Stop the background server started by `rfx model start` or `rfx run` on that port (or size's)."""
    from app.llm import local_model

    pid = local_model.stop(port, size=size)
    _err.print(f"stopped the local model server (pid {pid})" if pid else "no local model server was running")


@model_app.command("status")
def status(port: PortOption = None) -> None:
    """Which sizes are installed, and what the port serves."""
    from app.llm import local_model
    from app.settings import get_settings

    table = Table("size", "model", "installed", "file")
    for size in local_model.SIZES:
        table.add_row(
            size,
            local_model.alias_for(size),
            "yes" if local_model.is_installed(size) else "no",
            str(local_model.model_path(size)),
        )
    Console().print(table)
    served = local_model.served_models(port or get_settings().local_model_port)
    typer.echo(f"{local_model.base_url(port)}: " + (", ".join(served) if served else "nothing running"))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.add_typer(model_app, name="model")
