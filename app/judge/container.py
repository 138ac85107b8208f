"""One hardened sandbox container, driven over its attached stdio by `docker run -i`.

Speaking to the runner over the container's stdin/stdout avoids a `docker exec` per run (0.12-0.16
s each here). `--rm` plus the runner exiting on stdin EOF means a container never outlives the
process that owns it by more than its current run, even if that process is SIGKILLed; labels let
the next judge reap whatever is left anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from app.judge.config import Runtime
from app.judge.seccomp import runsc_profile_path
from app.reflexion.models import JudgeLimits, Submission

HEADER = struct.Struct(">I")
RUNNER_HEADROOM_MB = 64  # runner + harness, on top of the submission's own memory limit
ANSWER_SLACK_S = 15.0  # the runner answers by timeout + 0.5 s + cleanup; past this it is stuck
MAX_FRAME = 64 * 1024 * 1024
LATE_CREATE_S = 1.0  # after a start is cut short: how long a late-created container is watched for
# The CLI that relays a container's stdio for its whole life runs Go on one thread: with a thread
# per core, Go's idle threads spin looking for work on every wakeup, which costs the host CPU per
# judgement (bench/judge_cpu.py reports the relay's share). The relay is two small copies; it gains
# nothing from more threads.
RELAY_ENV = {"GOMAXPROCS": "1"}


class ContainerGone(Exception):
    """The container or its docker CLI ended (or broke protocol): the run has no answer."""


@dataclass
class RunResult:
    """The runner's own observations plus the harness's report (None if there was none)."""

    outcome: str
    detail: str
    clean: bool
    duration_ms: float
    report: dict[str, Any] | None

    @property
    def trouble(self) -> bool:
        """Any sign the container should not be reused."""
        return self.outcome != "ok" or not self.clean


def host_pids_limit(limits: JudgeLimits, runtime: Runtime) -> int:
    """The pids cgroup limit Docker applies on the host.

    Under gVisor the cgroup counts the sandbox kernel's own host threads, not the submission's
    processes (a limit of 64 starves the Go runtime and the sandbox dies); there the submission's
    process count is enforced inside, with RLIMIT_NPROC of gVisor's kernel (see harness._set_limits).
    """
    return limits.pids if runtime == "runc" else max(512, limits.pids * 4)


def _identity(runtime: Runtime) -> list[str]:
    """Who PID 1 is.

    runc: nobody with no capabilities at all; the kernel's PR_SET_DUMPABLE keeps the candidate
    (same uid) out of the runner's and harness's /proc entries and ptrace.
    runsc: this gVisor release does not honour PR_SET_DUMPABLE for /proc/<pid>/fd, so a same-uid
    candidate could write into the runner's stdout (the host channel). There the runner starts as
    gVisor's uid 0 with only SETUID, SETGID and KILL, and the harness and the candidate drop to two
    other uids (no capabilities); the candidate still runs as nobody, and uid checks keep it out.
    """
    if runtime == "runc":
        return ["--user", "65534:65534", "--cap-drop", "ALL"]
    return [
        "--user",
        "0:0",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "SETUID",
        "--cap-add",
        "SETGID",
        "--cap-add",
        "KILL",
        "--security-opt",
        f"seccomp={runsc_profile_path()}",
    ]


def hardening_args(limits: JudgeLimits, runtime: Runtime) -> list[str]:
    """The isolation flags for one container (what each stops: docs/security.md)."""
    memory = f"{limits.memory_mb + RUNNER_HEADROOM_MB}m"
    return [
        "--runtime",
        runtime,
        "--network",
        "none",
        *_identity(runtime),
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,noexec,size={limits.tmpfs_mb}m,mode=1777",
        "--ipc",
        "private",
        "--shm-size",
        "1m",
        "--memory",
        memory,
        "--memory-swap",
        memory,
        "--pids-limit",
        str(host_pids_limit(limits, runtime)),
        "--cpus",
        str(limits.cpus),
        "--ulimit",
        "core=0",
        "--hostname",
        "sandbox",
        "--log-driver",
        "none",
        "--pull",
        "never",
    ]


@dataclass(eq=False)
class SandboxContainer:
    """A container running the runner; `run` is one judgement, strictly one at a time."""

    docker: str
    image: str
    name: str
    labels: dict[str, str]
    limits: JudgeLimits
    runtime: Runtime
    fresh: bool
    runs: int = 0
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)
    stderr_tail: bytearray = field(default_factory=bytearray, repr=False)
    _stderr_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _sent_first: bool = field(default=False, repr=False)
    _run_id: str = field(default="", repr=False)

    def command(self) -> list[str]:
        args = [self.docker, "run", "-i", "--rm", "--name", self.name]
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        args += hardening_args(self.limits, self.runtime)
        args.append(self.image)
        if self.fresh:
            args.append("--fresh")
        if self.runtime == "runsc":
            args.append(f"--nproc={self.limits.pids}")
        return args

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout_s: float, first: bytes = b"") -> dict[str, Any]:
        """Start the container and wait for the runner's ready frame.

        `first` (fresh mode) is the request, written at once: the runner reads it as soon as it is
        up, which saves a round trip on a path where every millisecond counts against `docker run`.
        """
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=1 << 20,
                env={**os.environ, **RELAY_ENV},  # the CLI's own; the container's stays empty
            )
        except asyncio.CancelledError:
            # asyncio kills a CLI it spawned but did not hand over; its create request may still land.
            await asyncio.shield(self.kill(settle_s=LATE_CREATE_S))
            raise
        self._stderr_task = asyncio.create_task(self._collect_stderr())
        try:
            if first and self.proc.stdin is not None:
                self.proc.stdin.write(first)
                self._sent_first = True
            ready = json.loads(await asyncio.wait_for(self._read_frame(), timeout_s))
        except asyncio.CancelledError:
            # The daemon may still be creating the container the killed CLI asked for.
            await asyncio.shield(self.kill(settle_s=LATE_CREATE_S))
            raise
        except (TimeoutError, ContainerGone, ValueError) as exc:
            await self.kill(settle_s=LATE_CREATE_S)
            why = self._why(f"the sandbox container did not start ({type(exc).__name__})")
            raise ContainerGone(why) from None
        if not isinstance(ready, dict) or ready.get("op") != "ready":
            await self.kill()
            raise ContainerGone("the sandbox runner sent an unexpected greeting")
        return ready

    async def _collect_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self.stderr_tail += chunk
            del self.stderr_tail[:-4096]

    def _why(self, default: str) -> str:
        lines = [ln for ln in bytes(self.stderr_tail).decode("utf-8", "replace").splitlines() if ln.strip()]
        return f"{default}: {lines[-1].strip()}" if lines else default

    async def _read_frame(self) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            head = await self.proc.stdout.readexactly(HEADER.size)
            (size,) = HEADER.unpack(head)
            if size > MAX_FRAME:
                raise ContainerGone(f"the runner sent a {size}-byte frame")
            return await self.proc.stdout.readexactly(size) if size else b""
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ContainerGone(self._why("the sandbox container ended")) from exc

    async def run(self, submission: Submission, limits: JudgeLimits) -> RunResult:
        """Send one submission and wait for the runner's result. Cancellation kills the container."""
        if not self.alive or self.proc is None or self.proc.stdin is None:
            raise ContainerGone("the sandbox container is not running")
        self.runs += 1
        since = time.time() - 1
        try:
            if not self._sent_first:
                self.proc.stdin.write(self.request(submission, limits))
            self._sent_first = False
            await self.proc.stdin.drain()
            result = json.loads(await asyncio.wait_for(self._read_frame(), limits.timeout_s + ANSWER_SLACK_S))
            raw = await asyncio.wait_for(self._read_frame(), ANSWER_SLACK_S)
        except asyncio.CancelledError:
            await asyncio.shield(self.kill())
            raise
        except TimeoutError:
            await self.kill()
            late = "the sandbox did not answer in time"
            return RunResult("timeout", late, False, limits.timeout_s * 1000, None)
        except (ConnectionError, ValueError) as exc:
            await self.kill()
            raise ContainerGone(self._why(f"the sandbox connection failed ({type(exc).__name__})")) from None
        except ContainerGone:
            await self.kill()
            if await self.was_oom_killed(since):
                # gVisor's sandbox is one host process: a memory bomb spread over many
                # processes gets the whole container OOM-killed. That is the submission's verdict.
                return RunResult(
                    "memory",
                    "the sandbox was killed by its memory limit",
                    False,
                    (time.time() - since - 1) * 1000,
                    None,
                )
            raise
        report: dict[str, Any] | None = None
        if raw:
            try:
                parsed = json.loads(raw)
                report = parsed if isinstance(parsed, dict) else None
            except ValueError:
                report = None
        if not isinstance(result, dict):
            raise ContainerGone("the sandbox runner broke protocol")
        if result.get("run") != self._run_id:
            # Only the runner (another uid, non-dumpable) knows the nonce: a frame written ahead by
            # a submission, or an answer to an earlier request, can never be taken for this result.
            await self.kill()
            raise ContainerGone("the sandbox answered with a result for another request")
        return RunResult(
            outcome=str(result.get("outcome", "crashed")),
            detail=str(result.get("detail", "")),
            clean=result.get("clean") is True,
            duration_ms=float(result.get("duration_ms", 0.0)),
            report=report,
        )

    def request(self, submission: Submission, limits: JudgeLimits) -> bytes:
        """The request for one run, under a fresh random run id the runner must echo in its result."""
        self._run_id = secrets.token_hex(16)
        return request_bytes(submission, limits, self._run_id)

    async def was_oom_killed(self, since: float) -> bool:
        """Whether Docker recorded an OOM kill for this container since `since` (unix time)."""
        code, out, _ = await docker_cli(
            self.docker,
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{time.time() + 0.5:.3f}",
            "--filter",
            f"container={self.name}",
            "--filter",
            "event=oom",
            "--format",
            "{{.Action}}",
            timeout_s=10,
        )
        return code == 0 and "oom" in out.split()

    async def close(self, wait_s: float = 5.0) -> None:
        """Ask the runner to exit (stdin EOF); the container removes itself (`--rm`)."""
        if self.proc is None:
            return
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), wait_s)
        except TimeoutError:
            await self.kill()
        await self._finish_stderr()

    async def kill(self, settle_s: float = 0.0) -> None:
        """Stop now: end the CLI process and remove the container.

        `settle_s` > 0 (a start cut short): the daemon can finish creating a container after the
        CLI that asked for it is gone, so the name is watched that long and removed if it appears.
        """
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await force_remove(self.docker, [self.name])
        if self.proc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 10)
        if settle_s > 0:
            await force_remove(self.docker, [self.name], settle_s=settle_s)
        await self._finish_stderr()

    async def _finish_stderr(self) -> None:
        if self._stderr_task is not None and not self._stderr_task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1)
            except (TimeoutError, asyncio.CancelledError):
                self._stderr_task.cancel()


def request_bytes(submission: Submission, limits: JudgeLimits, run_id: str) -> bytes:
    """The runner's request: a header frame (run id, limits, body length), then the submission's JSON."""
    body = json.dumps(submission.model_dump(mode="json"), separators=(",", ":")).encode()
    header = json.dumps(
        {"op": "run", "run": run_id, "limits": limits.model_dump(mode="json"), "body_len": len(body)},
        separators=(",", ":"),
    ).encode()
    return HEADER.pack(len(header)) + header + body


async def docker_cli(docker: str, *args: str, timeout_s: float = 60.0) -> tuple[int, str, str]:
    """Run one docker CLI command; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        docker,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, "", "timed out"
    return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


async def force_remove(docker: str, names: list[str], wait_s: float = 15.0, settle_s: float = 0.0) -> None:
    """`docker rm -f`, then wait until Docker no longer lists them: `rm -f` returns at once when
    `--rm` auto-removal is already under way, and callers rely on "gone" meaning gone.
    With `settle_s`, "not listed" must hold that long (a late create is removed too)."""
    if not names:
        return
    await docker_cli(docker, "rm", "-f", *names, timeout_s=30)
    deadline = time.monotonic() + wait_s
    filters = [arg for name in names for arg in ("--filter", f"name=^/?{name}$")]
    clear_since: float | None = None
    while time.monotonic() < deadline:
        code, out, _ = await docker_cli(docker, "ps", "-aq", *filters, timeout_s=10)
        if code != 0 or not out.split():
            clear_since = clear_since or time.monotonic()
            if time.monotonic() - clear_since >= settle_s:
                return
            await asyncio.sleep(0.1)
            continue
        clear_since = None
        await asyncio.sleep(0.05)
        await docker_cli(docker, "rm", "-f", *out.split(), timeout_s=30)
