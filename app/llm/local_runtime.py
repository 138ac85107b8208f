"""The llama.cpp runtime of the local model: `llama-cpp-python[server]`, built portable.

The default (native) build of llama.cpp crashes on these VMs: the CPU advertises AMX, the
hypervisor forbids it, and libggml-cpu dies with a general protection fault on the first token.
So we always build from the sdist with explicit, portable CPU flags. The build takes minutes; its
wheel is kept in the data dir's cache so a reinstall (a new venv, a fresh clone on the same machine)
takes seconds. The runtime is an optional extra (`.[local-model]`), never a hard dependency: we
install it into the current interpreter's environment only when it is missing or the wrong version.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

from app.errors import Unavailable
from app.llm.local_weights import Progress, no_progress

RUNTIME_VERSION = "0.3.36"
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_BMI2=ON -DGGML_AMX_INT8=OFF"
)
# Modules the OpenAI-compatible server needs beyond the bindings (the `[server]` extra).
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def runtime_ready() -> bool:
    """True when the pinned bindings and the server's own dependencies are importable here."""
    try:
        if metadata.version("llama-cpp-python") != RUNTIME_VERSION:
            return False
    except metadata.PackageNotFoundError:
        return False
    return all(importlib.util.find_spec(name) is not None for name in _SERVER_MODULES)


def wheel_cache(data_dir: Path) -> Path:
    return data_dir / "cache" / "wheels"


def _cached_wheel(data_dir: Path) -> Path | None:
    # The bindings load libllama through ctypes, so the wheel is tagged py3-none-<platform>.
    found = sorted(wheel_cache(data_dir).glob(f"llama_cpp_python-{RUNTIME_VERSION}-*.whl"))
    return found[-1] if found else None


def _run_with_heartbeat(command: list[str], step: str, log: Path, progress: Progress, **env: str) -> None:
    """Run a long pip command, its output to `log`, calling `progress` every second so users see life."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **env})
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(1.0):
                progress(step, int(time.monotonic() - started), None)

        ticker = threading.Thread(target=beat, daemon=True)
        ticker.start()
        try:
            code = process.wait()
        except BaseException:
            process.terminate()
            process.wait()
            raise
        finally:
            stop.set()
            ticker.join()
    if code != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise Unavailable(f"{step} failed (exit {code}, log {log}): {' | '.join(tail)}")


def build_wheel(data_dir: Path, progress: Progress = no_progress) -> Path:
    """Build the portable llama-cpp-python wheel once into the data dir's cache."""
    cached = _cached_wheel(data_dir)
    if cached is not None:
        return cached
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-binary",
        "llama-cpp-python",
        "--wheel-dir",
        str(wheel_cache(data_dir)),
        f"llama-cpp-python=={RUNTIME_VERSION}",
    ]
    _run_with_heartbeat(
        command,
        "building the llama.cpp runtime (portable flags, several minutes)",
        data_dir / "logs" / "llama-cpp-build.log",
        progress,
        CMAKE_ARGS=PORTABLE_CMAKE_ARGS,
        FORCE_CMAKE="1",
    )
    built = _cached_wheel(data_dir)
    if built is None:
        raise Unavailable(f"the llama.cpp build produced no wheel in {wheel_cache(data_dir)}")
    return built


def install_runtime(data_dir: Path, progress: Progress = no_progress) -> None:
    """Make `python -m llama_cpp.server` work in this interpreter's environment (no-op when it does)."""
    if runtime_ready():
        return
    wheel = build_wheel(data_dir, progress)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        f"{wheel}[server]",
    ]
    _run_with_heartbeat(
        command, "installing the llama.cpp runtime", data_dir / "logs" / "llama-cpp-install.log", progress
    )
    importlib.invalidate_caches()
    if not runtime_ready():
        raise Unavailable(
            f"llama-cpp-python {RUNTIME_VERSION} is still not importable after installing {wheel.name}"
        )
