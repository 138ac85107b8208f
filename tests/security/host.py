"""Host-side tripwires: what a hostile program must never reach, and how the test proves it did not.

- a secret file on the host (a program that can read it has escaped the filesystem),
- a host path the program tries to create (a program that can write it has escaped),
- a TCP listener on the host's loopback (a program that connects to it has escaped the network
  namespace; only ever 127.0.0.1, never another address),
- a sentinel process running as the sandbox's uid (65534) on the host (`kill -1` in the sandbox
  must not reach it),
- a secret in the test process's environment (the judge must not pass the host's environment on).
Hostile programs get these coordinates through `string.Template` placeholders ($secret_path,
$forbidden, $port, $secret, $tag) so the table of programs stays plain source text. Process names
carry this session's tag, so a copy of the suite running elsewhere on the host is not mistaken for an
escape.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ENV_CANARY = "HOSTCANARY_RFX_SECURITY"
SESSION_TAG = uuid.uuid4().hex[:6]
HOSTILE_MARK = f"hx_{SESSION_TAG}"  # what this session's hostile processes call themselves
SANDBOX_UID = 65534


@dataclass
class HostGuard:
    directory: Path
    secret: str
    port: int
    listener: socket.socket
    sentinel: subprocess.Popen[bytes]
    env_secret: str
    markers: list[str] = field(default_factory=list)

    @property
    def secret_path(self) -> Path:
        return self.directory / "secret.txt"

    @property
    def forbidden(self) -> Path:
        return self.directory / "hx_forbidden"

    def substitutions(self) -> dict[str, str]:
        return {
            "secret_path": str(self.secret_path),
            "forbidden": str(self.forbidden),
            "port": str(self.port),
            "secret": self.secret,
            "tag": SESSION_TAG,
        }

    def secrets(self) -> list[str]:
        """Strings that must never appear in anything the judge returns."""
        return [self.secret, self.env_secret]

    def listener_connections(self) -> int:
        """How many connections reached the host listener (non-blocking: a count, never a wait)."""
        count = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def hostile_host_processes(self) -> list[str]:
        """Host processes whose name or command line carries this session's hostile marker."""
        found = []
        me = os.getpid()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == me:
                continue
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                cmdline = raw.replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if comm.startswith(HOSTILE_MARK) or f" {HOSTILE_MARK}" in f" {cmdline}":  # argv[0] or comm
                found.append(f"{pid}:{comm}:{cmdline[:80]}")
        return found

    def problems(self) -> list[str]:
        """Everything that shows the host was affected; empty when it was not."""
        problems = []
        if self.forbidden.exists():
            problems.append(f"the sandbox created the host file {self.forbidden}")
        if self.secret_path.read_text() != self.secret:
            problems.append("the host secret file was modified")
        if self.sentinel.poll() is not None:
            problems.append(f"the host sentinel process died (exit {self.sentinel.returncode})")
        connections = self.listener_connections()
        if connections:
            problems.append(f"{connections} connection(s) reached the host loopback listener")
        problems += [f"hostile process on the host: {p}" for p in self.hostile_host_processes()]
        return problems


def open_guard() -> Iterator[HostGuard]:
    """Set up the tripwires, yield them, take them down (a generator for a pytest fixture)."""
    directory = Path(tempfile.mkdtemp(prefix="rfx-hostguard-"))
    os.chmod(directory, 0o755)
    secret = f"host-secret-{uuid.uuid4().hex}"
    (directory / "secret.txt").write_text(secret)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    sentinel = subprocess.Popen(
        ["sleep", "3600"],
        user=SANDBOX_UID,
        group=SANDBOX_UID,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env_secret = f"env-secret-{uuid.uuid4().hex}"
    os.environ[ENV_CANARY] = env_secret
    guard = HostGuard(
        directory=directory,
        secret=secret,
        port=listener.getsockname()[1],
        listener=listener,
        sentinel=sentinel,
        env_secret=env_secret,
    )
    try:
        yield guard
    finally:
        os.environ.pop(ENV_CANARY, None)
        sentinel.kill()
        sentinel.wait()
        listener.close()
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()
