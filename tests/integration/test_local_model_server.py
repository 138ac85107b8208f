"""The local model server's lifecycle on the real installed 0.5B model: start, answer, reuse, stop.

Each server holds ~1.4 GB resident, so the tests run one at a time and always stop what they
start. The model must be installed (`rfx model install`, done by `make model` before the tests).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.errors import ConfigError, Conflict
from app.llm import local_model
from app.llm.local_server import pid_file
from app.settings import Settings
from tests.fixtures.services import free_port
from tests.fixtures.signals import interruptible

pytestmark = pytest.mark.model

DATA_DIR = Settings().data_dir
READY_WAIT_S = 180.0


def rfx(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,  # type: ignore[call-overload]
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for_models(port: int, process: subprocess.Popen[str] | None = None) -> list[str]:
    """Poll until the server lists its models (a wait with a generous cap, not a timed assertion)."""
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"rfx exited early ({process.returncode}): {process.stderr.read() if process.stderr else ''}"
            )
        with contextlib.suppress(httpx.HTTPError):
            reply = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return [m["id"] for m in reply.json()["data"]]
        time.sleep(0.3)
    raise AssertionError(f"nothing answered on port {port}")


def refuses(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
    except httpx.ConnectError:
        return True
    return False


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    assert local_model.is_installed("0.5b"), "the 0.5B local model is not installed: run `rfx model install`"


def test_rfx_model_serve_answers_and_ctrl_c_leaves_no_process() -> None:
    port = free_port()
    process = rfx("model", "serve", "--size", "0.5b", "--port", str(port), preexec_fn=interruptible)
    try:
        assert wait_for_models(port, process) == ["qwen2.5-coder-0.5b"]
        server_pid = json.loads(pid_file(DATA_DIR, port).read_text())["pid"]
        assert alive(server_pid) and server_pid != process.pid

        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={
                "model": "qwen2.5-coder-0.5b",
                "messages": [{"role": "user", "content": "Say OK."}],
                "max_tokens": 4,
                "temperature": 0,
            },
            timeout=120,
        ).json()
        assert reply["choices"][0]["message"]["content"].strip()
        assert reply["usage"]["completion_tokens"] >= 1

        # The command announces itself once its own readiness poll sees the server, which can be
        # a moment after ours did: wait for that line before pressing Ctrl-C.
        assert process.stderr is not None
        announced = ""
        while "serving" not in announced and (line := process.stderr.readline()):
            announced += line
        process.send_signal(signal.SIGINT)  # what Ctrl-C does to the command
        _, rest = process.communicate(timeout=60)
        stderr = announced + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "serving qwen2.5-coder-0.5b at" in stderr and "stopped" in stderr
    assert not alive(server_pid)
    assert refuses(port)
    assert not pid_file(DATA_DIR, port).exists()


def test_ensure_running_starts_once_reuses_then_stop_ends_it() -> None:
    port = free_port()
    first = local_model.ensure_running("0.5b", port)
    try:
        assert first.started and first.pid is not None and alive(first.pid)
        assert first.base_url == f"http://127.0.0.1:{port}/v1"

        again = local_model.ensure_running("0.5b", port)
        assert not again.started and again.pid == first.pid

        # Another size on the same port is a conflict, not a second server.
        with pytest.raises(Conflict, match=r"not qwen2\.5-coder-1\.5b"):
            local_model.ensure_running("1.5b", port)

        # `rfx model start` reports the running server instead of starting another.
        start = rfx("model", "start", "--size", "0.5b", "--port", str(port))
        out, err = start.communicate(timeout=60)
        assert start.returncode == 0, err
        assert out.strip() == first.base_url and "already running" in err
    finally:
        stopper = rfx("model", "stop", "--port", str(port))
        _, err = stopper.communicate(timeout=60)
    assert stopper.returncode == 0
    assert f"pid {first.pid}" in err
    assert not alive(first.pid)
    assert refuses(port)
    assert local_model.stop(port) is None  # nothing left to stop


class _NotAModel(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel writes them) of TCP sockets listening on `port`."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(address)
    return found


def test_the_callers_host_port_and_settings_variables_do_not_reach_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """llama_cpp.server reads HOST and PORT over its own flags and API_KEY as a setting: a caller's
    environment (a platform's PORT, HOST=0.0.0.0) must neither move the server nor expose it."""
    port, elsewhere = free_port(), free_port()
    monkeypatch.setenv("PORT", str(elsewhere))
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("API_KEY", "a-key-the-client-does-not-send")
    server = local_model.ensure_running("0.5b", port)
    try:
        assert wait_for_models(port) == ["qwen2.5-coder-0.5b"]
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        assert refuses(elsewhere)
    finally:
        local_model.stop(port)
    assert server.pid is not None and not alive(server.pid)


def test_a_port_taken_by_something_else_is_a_conflict_and_starts_nothing() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotAModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with pytest.raises(Conflict, match=f"port {port} is taken"):
            local_model.ensure_running("0.5b", port)
        assert not pid_file(DATA_DIR, port).exists()
    finally:
        server.shutdown()
        server.server_close()


def test_not_installed_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not installed"):
        local_model.ensure_running("0.5b", free_port(), data_dir=tmp_path)
    process = rfx("model", "serve", "--port", str(free_port()), env={"RFX_DATA_DIR": str(tmp_path)})
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        "rfx: error: the 0.5b local model is not installed: run 'rfx model install --size 0.5b'"
    ]


def test_bad_size_is_one_line_on_stderr() -> None:
    process = rfx("model", "install", "--size", "7b")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines() == ["rfx: error: unknown local model size '7b': choose one of 0.5b, 1.5b"]
