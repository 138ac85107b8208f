"""The llama.cpp runtime of the local model: `llama-cpp-python[server]`, built portable.

The default (native) build of llama.cpp crashes on these VMs: the CPU advertises AMX, the
hypervisor forbids it, and libggml-cpu dies with a general protection fault on the first token.
So we always build from the sdist with explicit, portable CPU flags. The build takes minutes; its
wheel is kept in the data dir's cache so a reinstall (a new venv, a fresh clone on the same machine)
takes seconds. The runtime is an optional extra (`.[local-model]`), never a hard dependency: we
install it into the current interpreter's environment only when it is missing or the wrong version.

Which version, and the sha256 of its sdist and of every server dependency, is the lock's to say
(`requirements/local-model.txt`, written by `scripts/lock`): the build and the install are
hash-checked against it, so a fresh machine gets exactly what the tests ran.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from app.errors import Unavailable
from app.llm.local_weights import Progress, no_progress
from app.lockfile import lock_path, parse_lock

RUNTIME_PACKAGE = "llama-cpp-python"
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


@dataclass(frozen=True)
class RuntimeLock:
    """The runtime's part of the lock: its pinned sdist, and the hash-pinned rest of what it needs."""

    version: str
    sdist: str  # the lock's requirement block for llama-cpp-python, hashes included
    dependencies: str  # every other block of the lock file


LOCK_FILE = "local-model.txt"


@cache
def runtime_lock() -> RuntimeLock:
    path = lock_path(LOCK_FILE)
    try:
        pins = parse_lock(path.read_text())
    except OSError as exc:
        raise Unavailable(f"cannot read the local model's lock {path}: {exc.strerror}") from exc
    ours = [pin for pin in pins if pin.name == RUNTIME_PACKAGE]
    if len(ours) != 1 or not ours[0].hashes:
        raise Unavailable(f"{path} must pin {RUNTIME_PACKAGE} once, with its hash: run scripts/lock")
    return RuntimeLock(
        version=ours[0].version,
        sdist=ours[0].block,
        dependencies="".join(pin.block for pin in pins if pin is not ours[0]),
    )


def runtime_ready() -> bool:
    """True when the pinned bindings and the server's own dependencies are importable here."""
    try:
        if metadata.version(RUNTIME_PACKAGE) != runtime_lock().version:
            return False
    except metadata.PackageNotFoundError:
        return False
    return all(importlib.util.find_spec(name) is not None for name in _SERVER_MODULES)


def wheel_cache(data_dir: Path) -> Path:
    return data_dir / "cache" / "wheels"


def _cached_wheel(data_dir: Path) -> Path | None:
    # The bindings load libllama through ctypes, so the wheel is tagged py3-none-<platform>.
    found = sorted(wheel_cache(data_dir).glob(f"llama_cpp_python-{runtime_lock().version}-*.whl"))
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


def _requirements_file(data_dir: Path, name: str, text: str) -> Path:
    """pip reads hashes only from a requirements file: write the lock's part to one in the cache."""
    path = data_dir / "cache" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def build_wheel(data_dir: Path, progress: Progress = no_progress) -> Path:
    """Build the portable llama-cpp-python wheel once into the data dir's cache, from the locked sdist."""
    cached = _cached_wheel(data_dir)
    if cached is not None:
        return cached
    sdist = _requirements_file(data_dir, "llama-cpp-python.lock.txt", runtime_lock().sdist)
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--require-hashes",
        "--no-binary",
        RUNTIME_PACKAGE,
        "--wheel-dir",
        str(wheel_cache(data_dir)),
        "-r",
        str(sdist),
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
    dependencies = _requirements_file(data_dir, "llama-cpp-server.lock.txt", runtime_lock().dependencies)
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    logs, step = data_dir / "logs", "installing the llama.cpp runtime"
    _run_with_heartbeat(
        [*pip, "--require-hashes", "-r", str(dependencies)], step, logs / "llama-cpp-deps.log", progress
    )
    _run_with_heartbeat([*pip, "--no-deps", str(wheel)], step, logs / "llama-cpp-install.log", progress)
    importlib.invalidate_caches()
    if not runtime_ready():
        version = runtime_lock().version
        raise Unavailable(f"{RUNTIME_PACKAGE} {version} not importable after installing {wheel.name}")
