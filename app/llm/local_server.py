"""The local model's OpenAI-compatible server (`python -m llama_cpp.server`) on loopback.

Two ways to run it. `serve_foreground` is `rfx model serve`: the server is a child of the command and
stops with it (Ctrl-C or SIGTERM). `ensure_running` is what `rfx run` / `rfx serve` use: it reuses a
server that already answers on the port with the right model, otherwise starts one as a detached
daemon (its own session, so it outlives the command and the next run starts in milliseconds), and
records it in a pid file in the data dir; `stop` (`rfx model stop`) ends it. A file lock serializes
concurrent starters, and a pid is only ever signalled after checking its command line is our
server on that port, so a recycled pid is never killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.errors import ConfigError, Conflict, Unavailable
from app.llm.local_weights import WeightSpec, is_verified, weights_path

HOST = "127.0.0.1"
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class LocalServer:
    """A running local model server: where it answers and, when known, which process it is."""

    size: str
    alias: str
    port: int
    pid: int | None
    started: bool  # True when this call started it, False when an existing server was reused
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"


def run_dir(data_dir: Path) -> Path:
    return data_dir / "run"


def pid_file(data_dir: Path, port: int) -> Path:
    return run_dir(data_dir) / f"local-model-{port}.json"


def log_file(data_dir: Path, port: int) -> Path:
    return data_dir / "logs" / f"local-model-{port}.log"


def served_models(port: int, timeout: float = 2.0) -> list[str] | None:
    """Model ids served on the port, or None when nothing listens there.

    Something that listens but does not speak the OpenAI models API raises Conflict: the port is
    taken, and we must not start a second server on it nor send prompts to a stranger.
    """
    url = f"http://{HOST}:{port}/v1/models"
    try:
        reply = httpx.get(url, timeout=timeout)
    except httpx.ConnectError:
        return None
    except httpx.HTTPError as exc:
        raise Conflict(f"port {port} is taken by something that is not a model server ({exc})") from None
    try:
        return [str(item["id"]) for item in reply.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise Conflict(
            f"port {port} is taken by something that is not an OpenAI-compatible model server "
            f"(GET /v1/models answered HTTP {reply.status_code})"
        ) from None


def default_threads() -> int:
    """Half the cores (at least one): llama.cpp's threads spin-wait on each other at every step, so
    when the judge, the service or a neighbour takes a core, a thread per core stalls them all
    (on a busy 2-core host, 2 threads generated 0.4 tokens/s where 1 thread generated 3.8)."""
    return max(1, (os.cpu_count() or 1) // 2)


def server_command(spec: WeightSpec, model: Path, port: int, threads: int | None = None) -> list[str]:
    threads = threads or default_threads()
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        spec.alias,
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        str(threads),
    ]


def _is_our_server(pid: int, port: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"llama_cpp.server" in argv and b"--port" in argv and str(port).encode() in argv


def _read_pid(data_dir: Path, port: int) -> int | None:
    try:
        pid = int(json.loads(pid_file(data_dir, port).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if _is_our_server(pid, port) else None


def _our_running_server(spec: WeightSpec, data_dir: Path, port: int) -> int | None:
    """The pid of the server we started on `port` for this model, if it still runs.

    Trusted without asking the server: llama.cpp answers nothing, not even GET /v1/models, while it
    is busy generating for someone else (a benchmark, another episode), and a busy server of our own
    is not a stranger holding the port.
    """
    try:
        recorded = json.loads(pid_file(data_dir, port).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("alias") != spec.alias:
        return None
    return _read_pid(data_dir, port)


def _write_pid(data_dir: Path, port: int, pid: int, spec: WeightSpec) -> None:
    path = pid_file(data_dir, port)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "port": port, "size": spec.size, "alias": spec.alias}))
    os.replace(tmp, path)


@contextlib.contextmanager
def _port_lock(data_dir: Path, port: int) -> Iterator[None]:
    path = run_dir(data_dir) / f"local-model-{port}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _log_tail(log: Path, lines: int = 3) -> str:
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return "no log"
    return " | ".join(line.strip() for line in tail) or "empty log"


def _wait_ready(process: subprocess.Popen[bytes], spec: WeightSpec, port: int, log: Path) -> None:
    """Poll until the server lists our model; fail fast (with its log) if the process dies."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        code = process.poll()
        if code is not None:
            raise Unavailable(
                f"the local model server exited with code {code} while starting: {_log_tail(log)}"
            )
        with contextlib.suppress(Conflict):  # a half-started uvicorn may answer oddly for a moment
            models = served_models(port, timeout=1.0)
            if models is not None and spec.alias in models:
                return
        if time.monotonic() > deadline:
            _terminate(process)
            raise Unavailable(f"the local model server did not answer within {READY_TIMEOUT_S:.0f} s ({log})")
        time.sleep(0.2)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _require_weights(spec: WeightSpec, data_dir: Path) -> Path:
    if not is_verified(spec, data_dir):
        raise ConfigError(
            f"the {spec.size} local model is not installed: run 'rfx model install --size {spec.size}'"
        )
    return weights_path(spec, data_dir)


def _already_serving(spec: WeightSpec, port: int) -> bool:
    """True when our model answers on the port; Conflict when something else holds the port."""
    models = served_models(port)
    if models is not None and spec.alias not in models:
        raise Conflict(
            f"port {port} already serves {models}, not {spec.alias}: stop it or pick another --port"
        )
    return models is not None


# llama_cpp.server takes HOST, PORT and CONFIG_FILE from the environment over its own flags, and any
# setting from a variable of that setting's name (API_KEY, MODEL, N_CTX, ...): the server gets only
# what a process needs, so a caller's PORT or HOST=0.0.0.0 can neither move it nor expose it.
KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


def server_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}


def _spawn(
    spec: WeightSpec, data_dir: Path, port: int, *, detached: bool, threads: int | None
) -> subprocess.Popen[bytes]:
    model = _require_weights(spec, data_dir)
    log = log_file(data_dir, port)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        return subprocess.Popen(
            server_command(spec, model, port, threads),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
            close_fds=True,
            env=server_environment(),
        )


def ensure_running(spec: WeightSpec, data_dir: Path, port: int, threads: int | None = None) -> LocalServer:
    """Reuse the server answering on `port` with this model, or start a detached one and wait for it."""
    with _port_lock(data_dir, port):
        ours = _our_running_server(spec, data_dir, port)
        if ours is not None:
            return LocalServer(spec.size, spec.alias, port, ours, started=False)
        if _already_serving(spec, port):
            return LocalServer(spec.size, spec.alias, port, _read_pid(data_dir, port), started=False)
        process = _spawn(spec, data_dir, port, detached=True, threads=threads)
        log = log_file(data_dir, port)
        _wait_ready(process, spec, port, log)
        _write_pid(data_dir, port, process.pid, spec)
        return LocalServer(spec.size, spec.alias, port, process.pid, started=True, log=log)


def stop(data_dir: Path, port: int) -> int | None:
    """Stop the local model server we started on `port`; returns its pid, or None if none ran."""
    with _port_lock(data_dir, port):
        pid = _read_pid(data_dir, port)
        pid_file(data_dir, port).unlink(missing_ok=True)
        if pid is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pid


def _is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a reaped-later child of ours counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def serve_foreground(
    spec: WeightSpec,
    data_dir: Path,
    port: int,
    on_ready: Callable[[LocalServer], None],
    threads: int | None = None,
) -> int:
    """Run the server as our child until Ctrl-C / SIGTERM, then stop it cleanly; returns its exit code."""
    with _port_lock(data_dir, port):
        if _already_serving(spec, port):
            raise Conflict(
                f"{spec.alias} is already served on port {port}: use it, or 'rfx model stop --port {port}'"
            )
        process = _spawn(spec, data_dir, port, detached=False, threads=threads)
        _write_pid(data_dir, port, process.pid, spec)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        log = log_file(data_dir, port)
        _wait_ready(process, spec, port, log)
        on_ready(LocalServer(spec.size, spec.alias, port, process.pid, started=True, log=log))
        return process.wait()
    except KeyboardInterrupt:
        _terminate(process)
        return 0
    finally:
        _terminate(process)
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(OSError):
            if json.loads(pid_file(data_dir, port).read_text()).get("pid") == process.pid:
                pid_file(data_dir, port).unlink()
