"""The bundled local model (Qwen2.5-Coder, 0.5B or 1.5B, GGUF Q4_K_M) behind llama.cpp: the public face.

So that a new user with no API key can run a real episode, the service can install a small code model
and serve it OpenAI-compatibly on loopback. Everything here takes its defaults from the settings
(`RFX_DATA_DIR`, `RFX_LOCAL_MODEL_SIZE`, `RFX_LOCAL_MODEL_PORT`); the pieces live in
`local_weights` (download, join, verify), `local_runtime` (the portable llama.cpp build) and
`local_server` (start, reuse, stop).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.llm.local_runtime import install_runtime, runtime_ready
from app.llm.local_server import LocalServer, serve_foreground, served_models
from app.llm.local_server import ensure_running as _ensure_running
from app.llm.local_server import stop as _stop
from app.llm.local_weights import (
    SIZES,
    WEIGHTS,
    ModelSize,
    Progress,
    WeightSpec,
    install_weights,
    is_verified,
    no_progress,
    spec_for,
    weights_path,
)
from app.llm.presets import local_port, local_size_of
from app.settings import get_settings

__all__ = [
    "SIZES",
    "WEIGHTS",
    "LocalServer",
    "ModelSize",
    "Progress",
    "alias_for",
    "base_url",
    "ensure_running",
    "install",
    "is_installed",
    "serve",
    "served_models",
    "spec_for",
    "stop",
]


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else get_settings().data_dir


def _size(size: str | None) -> WeightSpec:
    return spec_for(size if size is not None else get_settings().local_model_size)


def _port(port: int | None, size: str | None = None) -> int:
    """The given port, else the size's own port (the default size on RFX_LOCAL_MODEL_PORT)."""
    if port is not None:
        return port
    settings = get_settings()
    chosen = size if size is not None else settings.local_model_size
    return local_port(settings.local_model_port, settings.local_model_size, _size(chosen).size)


def alias_for(size: str | None = None) -> str:
    """The model name the local server answers to (what the `local` provider preset asks for)."""
    return _size(size).alias


def base_url(port: int | None = None, size: str | None = None) -> str:
    return f"http://127.0.0.1:{_port(port, size)}/v1"


def install(
    size: str | None = None, progress: Progress = no_progress, *, data_dir: Path | None = None
) -> Path:
    """Install the weights (verified) and the llama.cpp runtime; returns the GGUF path. Idempotent."""
    spec = _size(size)
    root = _data_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = install_weights(spec, root, progress)
    install_runtime(root, progress)
    return path


def is_installed(size: str | None = None, *, data_dir: Path | None = None) -> bool:
    return is_verified(_size(size), _data_dir(data_dir)) and runtime_ready()


def model_path(size: str | None = None, *, data_dir: Path | None = None) -> Path:
    return weights_path(_size(size), _data_dir(data_dir))


def ensure_running(
    size: str | None = None, port: int | None = None, *, data_dir: Path | None = None
) -> LocalServer:
    """A server for this model answering on loopback: reused if already up, else started detached."""
    threads = get_settings().local_model_threads
    return _ensure_running(_size(size), _data_dir(data_dir), _port(port, size), threads)


def serve(
    size: str | None = None,
    port: int | None = None,
    on_ready: Callable[[LocalServer], None] = lambda server: None,
    *,
    data_dir: Path | None = None,
) -> int:
    """Serve in the foreground until Ctrl-C or SIGTERM; the server stops with the call."""
    return serve_foreground(
        _size(size), _data_dir(data_dir), _port(port, size), on_ready, get_settings().local_model_threads
    )


def stop(port: int | None = None, *, data_dir: Path | None = None, size: str | None = None) -> int | None:
    """Stop the server `ensure_running` or `serve` started on the port; the pid, or None if none ran."""
    return _stop(_data_dir(data_dir), _port(port, size))


def installed_here(data_dir: Path) -> Callable[[str], bool]:
    """Whether a model named `local-<size>` can run on this host: its weights and runtime are
    installed, so its server can be started (the check is a file stamp, cheap enough per request)."""

    def runs_here(name: str) -> bool:
        size = local_size_of(name)
        return size is not None and is_installed(size, data_dir=data_dir)

    return runs_here
