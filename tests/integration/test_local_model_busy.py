"""A busy local model server of our own is reused, not mistaken for a stranger holding the port.

llama.cpp answers nothing (not even GET /v1/models) while it generates for someone else. Here a
listener that accepts connections but never answers stands in for that busy server, and a process
whose command line is a llama_cpp.server's stands in for its pid; no model is needed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.errors import Conflict
from app.llm.local_server import ensure_running, pid_file
from app.llm.local_weights import spec_for
from tests.fixtures.services import free_port


@pytest.fixture
def silent_listener() -> Iterator[int]:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen(16)  # connections complete in the backlog; nothing ever answers
        yield port


@pytest.fixture
def fake_server_process(silent_listener: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            "llama_cpp.server",
            "--port",
            str(silent_listener),
        ]
    )
    # Right after fork, /proc/PID/cmdline is still the parent's until exec completes: wait for it.
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    for _ in range(200):
        if b"llama_cpp.server" in cmdline.read_bytes():
            break
        time.sleep(0.05)
    yield process
    process.kill()
    process.wait()


def test_a_busy_server_we_started_is_reused(
    tmp_path: Path, silent_listener: int, fake_server_process: subprocess.Popen[bytes]
) -> None:
    spec = spec_for("0.5b")
    path = pid_file(tmp_path, silent_listener)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"pid": fake_server_process.pid, "port": silent_listener, "size": spec.size, "alias": spec.alias}
        )
    )
    server = ensure_running(spec, tmp_path, silent_listener)
    assert server.pid == fake_server_process.pid
    assert not server.started


def test_a_silent_stranger_on_the_port_is_still_refused(tmp_path: Path, silent_listener: int) -> None:
    with pytest.raises(Conflict, match="not a model server"):
        ensure_running(spec_for("0.5b"), tmp_path, silent_listener)


def test_a_pid_file_for_another_size_is_not_trusted(
    tmp_path: Path, silent_listener: int, fake_server_process: subprocess.Popen[bytes]
) -> None:
    other = spec_for("1.5b")
    path = pid_file(tmp_path, silent_listener)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "pid": fake_server_process.pid,
                "port": silent_listener,
                "size": other.size,
                "alias": other.alias,
            }
        )
    )
    with pytest.raises(Conflict):
        ensure_running(spec_for("0.5b"), tmp_path, silent_listener)
