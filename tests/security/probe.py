"""The known-good follow-up submission: it passes only on a clean sandbox.

Every hostile run is followed by this probe on the same judge. It is a correct solution that also
looks for anything an earlier run could have left behind in a pooled container: files, processes,
environment, imported modules, patched builtins, tracers, listening sockets, a full /tmp. It looks
from both sides of the judge's process split: the submitted code (the candidate process) returns
what it found as plain data, and `check` (run by the trusted harness) looks again itself. Hostile
programs mark what they leave with the prefix `hx_` so the probe can tell their leftovers from the
judge's own files and processes; a failing probe names what it found in its assertion message.
"""

from __future__ import annotations

from app.reflexion.models import Submission

# Runs in both processes: defines `_leftovers()` -> list of human-readable findings.
LOOKER = r"""
import builtins as _b
import os as _os
import sys as _sys

_MARK = "hx" + "_"          # spelled apart so the probe's own source never matches


def _leftover_files():
    found = []
    roots = {"/tmp", "/dev/shm", "/var/tmp", _os.getcwd(), _os.path.expanduser("~")}
    for root in sorted(roots - {"/", "/proc", "/sys", "/usr"}):
        if not _os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in _os.walk(root):
            found += [_os.path.join(dirpath, n) for n in dirnames + filenames if n.startswith(_MARK)]
            if len(found) > 5:
                return found
    return found


def _leftover_processes():
    found, total = [], 0
    for pid in _os.listdir("/proc"):
        if not pid.isdigit():
            continue
        total += 1
        try:
            with open(f"/proc/{pid}/comm") as fh:
                comm = fh.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if comm.startswith(_MARK) or _MARK in cmdline:
            found.append(f"{pid}:{comm}:{cmdline[:60]}")
    if total > 24:
        found.append(f"{total} processes visible in the sandbox")
    return found


def _patched_builtins():
    bad = []
    for name in ("len", "print", "open", "exec", "compile", "isinstance", "__import__", "repr"):
        obj = getattr(_b, name, None)
        if type(obj).__name__ != "builtin_function_or_method":  # a patch would be a Python function
            bad.append(name)
    for name in ("AssertionError", "Exception"):
        cls = getattr(_b, name)
        if not isinstance(cls, type) or cls.__module__ != "builtins":
            bad.append(name)
    return bad + [n for n in dir(_b) if n.startswith(_MARK)]


def _listeners():
    rows = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        rows += [line.strip() for line in lines if len(line.split()) > 3 and line.split()[3] == "0A"]
    return rows


def _ipc_and_sockets():
    found = []
    for name in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{name}") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        found += [f"sysv {name} " + line.split()[1] for line in lines if len(line.split()) > 1]
    try:
        with open("/proc/net/unix") as fh:
            unix = fh.read().splitlines()[1:]
    except OSError:
        unix = []
    return found + ["unix socket " + line.split()[-1] for line in unix if _MARK in line]


def _leftovers():
    found = [f"file {f}" for f in _leftover_files()]
    found += [f"process {p}" for p in _leftover_processes()]
    found += [f"env {k}" for k in sorted(_os.environ) if k.upper().startswith(_MARK.upper())]
    found += [f"module {m}" for m in sorted(_sys.modules) if m.startswith(_MARK)]
    found += [f"builtin {n}" for n in _patched_builtins()]
    if _sys.gettrace() is not None or _sys.getprofile() is not None:
        found.append("a tracer or profiler is installed")
    found += [f"listening socket {row}" for row in _listeners()]
    found += _ipc_and_sockets()
    st = _os.statvfs("/tmp")
    if st.f_blocks and st.f_bavail * 2 < st.f_blocks:
        found.append(f"/tmp is still full: {st.f_bavail}/{st.f_blocks} blocks free")
    try:
        with open("/tmp/probe-scratch", "wb") as fh:
            fh.write(b"\0" * (1 << 20))
        _os.unlink("/tmp/probe-scratch")
    except OSError as exc:
        found.append(f"cannot write 1 MiB to /tmp: {exc}")
    return found
"""

PROBE_CODE = (
    LOOKER
    + '''

def probe(a, b):
    """Correct sum plus what this (candidate) process sees left over; the harness checks both."""
    return [a + b, _leftovers()]
'''
)

PROBE_TESTS = (
    LOOKER
    + """

def check(candidate):
    assert candidate(40, 2)[0] == 42
    assert candidate(-1, 1)[0] == 0
    seen_by_candidate = candidate(1, 1)[1]
    assert seen_by_candidate == [], f"the candidate found: {seen_by_candidate}"
    seen_by_harness = _leftovers()
    assert seen_by_harness == [], f"the harness found: {seen_by_harness}"
"""
)


def probe_submission() -> Submission:
    return Submission(code=PROBE_CODE, tests=PROBE_TESTS, entry_point="probe")
