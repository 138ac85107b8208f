"""The long-lived runner: PID 1 of the sandbox container, spoken to over the attached stdio.

Protocol (frames are 4-byte big-endian length + bytes):
  runner -> host   {"op": "ready", ...} once started
  host -> runner   {"op": "run", "limits": {...}, "body_len": N}, then N bytes of submission JSON
                   (read by the forked harness, never by the runner)
  runner -> host   {"op": "result", "outcome": ..., "report_len": M, ...}, then an M-byte frame
                   holding the harness's JSON report (relayed, not parsed)
Why PID 1: the kernel does not deliver SIGKILL from inside the namespace to its init, so the code
under test cannot kill the runner; and `kill(-1, SIGKILL)` from PID 1 reaches every other process
in the container, which is how leftovers (daemonised, re-parented, process-group escapees) are
cleaned up after each run even though they share the runner's uid.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import time

from rfx_sandbox import wire

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a fresh judgement ~4 ms
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 1
GRACE_S = 0.5  # the harness enforces the limit itself; the runner's backstop comes this much later
PR_SET_DUMPABLE = 4
MAX_REPORT = 16 * 1024 * 1024
_buffer = bytearray(256 * 1024)  # reused for every report and zeroed after each run
SCRATCH = ("/tmp", "/dev/shm", "/dev/mqueue")
PRELOAD = (
    "abc", "array", "base64", "bisect", "calendar", "cmath", "collections", "copy", "dataclasses",
    "datetime", "decimal", "enum", "fractions", "functools", "hashlib", "heapq", "io", "itertools",
    "json", "math", "numbers", "operator", "random", "re", "statistics", "string", "struct",
    "textwrap", "time", "typing", "unicodedata",
)


def set_nondumpable() -> bool:
    """Forbid ptrace and /proc/<pid>/{mem,fd,environ} of the runner (and its forks) to the same uid."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def oom_kills() -> int | None:
    """The container cgroup's OOM-kill counter (cgroup v1 or v2), if the runtime exposes it."""
    for path, key in (("/sys/fs/cgroup/memory/memory.oom_control", b"oom_kill"),
                      ("/sys/fs/cgroup/memory.events", b"oom_kill")):
        try:
            with open(path, "rb") as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == key:
                        return int(parts[1])
        except OSError:
            continue
    return None


def kill_everything() -> bool:
    """SIGKILL every other process in the container and reap them; False if some would not go."""
    try:
        return _kill_everything()
    except Exception:
        return False


def _kill_everything() -> bool:
    deadline = time.monotonic() + 2.0
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            while True:
                pid, _ = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
        except ChildProcessError:
            return not _other_pids()
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)


def _other_pids() -> list[int]:
    me = os.getpid()
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) != me]
    except OSError:
        return []


def wipe_scratch() -> bool:
    """Empty every writable place a submission could leave a trace in; False if something stuck.

    Never raises: a hostile tree (thousands of levels, mode 000 directories, names near
    PATH_MAX) must make the container "unclean" (recycled), not kill PID 1.
    """
    clean = True
    for root in SCRATCH:
        try:
            clean = _empty_dir(root) and clean
        except Exception:
            clean = False
    try:
        _remove_sysv_ipc()
    except Exception:
        clean = False
    return clean


def wipe_as_candidate() -> bool:
    """Split-uid mode: the runner has no CAP_FOWNER, so a helper with the candidate's uid (the
    owner of everything it could create) wipes the scratch space."""
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                from rfx_sandbox.harness import CANDIDATE_UID, become

                become(CANDIDATE_UID)
                code = 0 if wipe_scratch() else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    except Exception:
        return False


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_WIPE_STEPS = 1_000_000


def _empty_dir(root: str) -> bool:
    """Remove everything below `root`, iteratively and relative to directory fds (no recursion,
    no long paths, one fd open at a time: the way back up is `..` and a stack of names)."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    names: list[str] = []
    try:
        for _ in range(_WIPE_STEPS):
            sub = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        sub = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if sub is not None:
                os.chmod(sub, 0o700, dir_fd=fd)
                child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd, _ = child, names.append(sub)
                continue
            if not names:
                return True
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
        return False
    except Exception:
        return False
    finally:
        os.close(fd)


def _remove_sysv_ipc() -> None:
    """Shared memory, semaphores and message queues outlive processes: remove the ones left."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    ipc_rmid = 0
    for name, remove in (("shm", lambda i: libc.shmctl(i, ipc_rmid, None)),
                         ("sem", lambda i: libc.semctl(i, 0, ipc_rmid)),
                         ("msg", lambda i: libc.msgctl(i, ipc_rmid, None))):
        try:
            with open(f"/proc/sysvipc/{name}", "rb") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 1:
                remove(int(fields[1]))


def _stdin_pollable() -> bool:
    """Whether stdin can be polled (it can on runc and gVisor; checked rather than assumed)."""
    try:
        wire.readable([0], 0)
        return True
    except OSError:
        return False


_STDIN_POLLABLE = True
_NPROC = 0  # --nproc=N (gVisor only): RLIMIT_NPROC for the submission, counted inside the sandbox
# Split-uid mode (gVisor only, where PR_SET_DUMPABLE does not guard /proc/<pid>/fd): the runner is
# uid 0 with only SETUID/SETGID/KILL, the harness and the candidate drop to two other uids.
_SPLIT_UID = False
_FRESH = False  # --fresh: one run, then exit


# A harness (and its candidate) forked ahead of its run, waiting for the run's limits: (harness pid,
# its report pipe, its control pipe). In pooled mode it is forked right after the previous run's
# cleanup, off the next run's clock. See harness.main.
_spare: tuple[int, int, int] | None = None


def prefork() -> None:
    """Fork the next run's harness now. The runner holds nothing of any submission at this point.
    Raises OSError when the fork fails."""
    global _spare
    discard_spare()
    result_r, result_w = os.pipe()
    control_r, control_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (result_r, result_w, control_r, control_w):
            os.close(fd)
        raise
    if pid == 0:
        code = 70
        try:
            os.close(result_r)
            os.close(control_w)
            from rfx_sandbox import harness

            code = harness.main(control_r, result_w, _SPLIT_UID)
        finally:
            os._exit(code)
    os.close(result_w)
    os.close(control_r)
    _spare = (pid, result_r, control_w)


def prepare_next() -> None:
    """Pooled mode, while idle: fork the next run's harness if possible (else that run forks it)."""
    try:
        prefork()
    except OSError:
        pass


def discard_spare() -> None:
    """Forget the waiting harness: closing its control pipe makes it and its candidate exit."""
    global _spare
    if _spare is not None:
        os.close(_spare[1])
        os.close(_spare[2])
        _spare = None


def _start_harness(limits: dict[str, Any], body_len: int) -> tuple[int, int]:
    """Tell the waiting harness (forked now if there is none) the run's limits. (pid, report fd)"""
    global _spare
    for _ in range(2):  # a harness that died while waiting is replaced once
        if _spare is None:
            prefork()
        assert _spare is not None
        pid, result_r, control_w = _spare
        _spare = None
        try:
            wire.write_frame(control_w, {"limits": limits, "body_len": body_len})
            os.close(control_w)
            return pid, result_r
        except OSError:
            os.close(control_w)
            os.close(result_r)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    raise OSError("the harness died before its run")


def run_one(header: dict[str, Any]) -> None:
    limits = dict(header.get("limits") or {})
    if _NPROC:
        limits["nproc"] = _NPROC
    body_len = int(header.get("body_len", 0))
    timeout = float(limits.get("timeout_s", 10))
    oom_before = oom_kills()
    started = time.monotonic()
    pid, result_r = _start_harness(limits, body_len)
    deadline = started + timeout + GRACE_S
    global _buffer
    view = memoryview(_buffer)
    used = 0
    outcome, detail, stdin_free, aborted = "ok", "", False, False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            outcome, detail = "timeout", "wall-clock limit reached (the runner stopped the run)"
            break
        watch = [result_r, 0] if stdin_free and _STDIN_POLLABLE else [result_r]
        ready = wire.readable(watch, remaining)
        if 0 in ready:  # the host closed our stdin (or broke protocol) mid-run: stop everything
            aborted = True
            break
        if result_r in ready:
            if used >= len(_buffer):
                if len(_buffer) >= MAX_REPORT:
                    outcome, detail = "crashed", "the harness report exceeded its size limit"
                    break
                bigger = bytearray(2 * len(_buffer))
                bigger[:used] = view[:used]
                view[:used] = bytes(used)
                view.release()
                _buffer = bigger
                view = memoryview(_buffer)
            count = os.readv(result_r, [view[used:]])
            if count == 0:
                break
            if not stdin_free and used == 0 and _buffer[0] == ord("B"):
                stdin_free = True
                _buffer[0] = 0
                count -= 1
                if count:
                    view[0:count] = view[1:count + 1]
            used += count
    duration_ms = (time.monotonic() - started) * 1000
    os.close(result_r)
    status_text = ""
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        waited, status = pid, 0
    if waited == 0:  # still running after EOF, timeout or abort
        os.kill(pid, signal.SIGKILL)
        waited, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        status_text = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
        status_text = f"exited with code {os.WEXITSTATUS(status)}"
    if outcome == "ok" and (status_text or used == 0):
        outcome, detail = "crashed", f"the harness {status_text or 'ended without a report'}"
    if _FRESH:  # the container is discarded right after this result; no later run to protect
        clean = True
    else:
        clean = kill_everything()
        clean = (wipe_as_candidate() if _SPLIT_UID else wipe_scratch()) and clean
    oom_after = oom_kills()
    if oom_before is not None and oom_after is not None and oom_after > oom_before:
        outcome, detail = "memory", "a process was killed by the container's memory limit"
    if aborted:
        view[:used] = bytes(used)
        os._exit(0)
    result = {"op": "result", "run": header.get("run"), "outcome": outcome, "detail": detail, "clean": clean,
              "duration_ms": round(duration_ms, 3), "report_len": used}
    wire.write_all(1, wire.frame(wire.dumps(result)) + wire.HEADER.pack(used))
    wire.write_all(1, view[:used])
    view[:used] = bytes(used)  # wipe: a later fork must not inherit this run's report
    view.release()


def main() -> None:
    global _NPROC, _STDIN_POLLABLE, _SPLIT_UID, _FRESH
    fresh = _FRESH = "--fresh" in sys.argv[1:]
    _SPLIT_UID = os.getuid() == 0
    if _SPLIT_UID:
        os.setgroups([])
    for arg in sys.argv[1:]:
        if arg.startswith("--nproc=") and arg[8:].isdigit():
            _NPROC = int(arg[8:])
    dumpable_off = set_nondumpable()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"})
    if not fresh:
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        from rfx_sandbox import harness  # noqa: F401  (warm for every fork)
    _STDIN_POLLABLE = _stdin_pollable()
    gc.collect()
    gc.freeze()  # forked children then share these pages instead of copying them on first GC
    wire.write_frame(1, {"op": "ready", "protocol": PROTOCOL, "pid": os.getpid(), "uid": os.getuid(),
                         "nondumpable": dumpable_off, "python": sys.version.split()[0]})
    if not fresh:
        prepare_next()
    while True:
        try:
            header = wire.read_frame(0, limit=1 << 20)
        except wire.WireError:
            os._exit(2)
        if header is None or not isinstance(header, dict):
            os._exit(0)
        op = header.get("op")
        if op == "run":
            try:
                run_one(header)
                if _FRESH:  # one run per container: the container's end is the cleanup
                    os._exit(0)
                prepare_next()  # after the result is out: off the run's clock
            except Exception as exc:  # a bug or a trap we did not foresee: report it, get recycled
                discard_spare()
                kill_everything()
                failure = {"op": "result", "run": header.get("run"), "outcome": "runner_error",
                           "clean": False, "report_len": 0,
                           "detail": f"runner failure: {type(exc).__name__}: {exc}"[:500], "duration_ms": 0}
                wire.write_all(1, wire.frame(wire.dumps(failure)) + wire.HEADER.pack(0))
        elif op == "ping":  # clean: nothing but the waiting harness and its candidate
            wire.write_frame(1, {"op": "pong", "clean": len(_other_pids()) <= (2 if _spare else 0)})
        else:
            os._exit(0)
