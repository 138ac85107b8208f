"""The table of hostile programs and the exact verdict each one must get.

Each case is source text plus the status the judge documents for that behaviour (never `passed`).
Most are HumanEval-shaped: `check` wants `solve(x) == x * x` and the hostile code's `solve` is
wrong, so the only honest outcomes are `failed` or the status of the hostile act itself. Probing
programs (network, privileges, host files) print `HX_ESCAPED:<what>` if something that must be
impossible succeeds and `HX_PROBE_DONE` when they finished looking; the test asserts the first is
absent and the second present, so a probe that silently did nothing cannot pass for a safe sandbox.
Anything a program leaves behind is named with the prefix `hx_` for the follow-up probe to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from app.reflexion.models import Submission, VerdictStatus

SOLVE_WRONG = "\ndef solve(x):\n    return x + 1\n"
# The tests carry a marker the submission never receives; `steal_the_tests` hunts for it.
CHECK = (
    "def check(candidate):\n    # HXTESTSECRET-91c2\n"
    "    assert candidate(2) == 4\n    assert candidate(3) == 9\n"
)
ASSERTS = ["assert solve(2) == 4", "assert solve(3) == 9"]
# The pytest shape: a module importing from `solution`, with parametrize and a fixture.
PYTEST = (
    "import pytest\nfrom solution import solve\n\n\n@pytest.fixture\ndef two():\n    return 2\n\n\n"
    "@pytest.mark.parametrize('x,expected', [(2, 4), (3, 9)])\ndef test_solve(x, expected):\n"
    "    assert solve(x) == expected\n\n\ndef test_two(two):\n    assert solve(two) == 4\n"
)

# Shared preamble: a forked child names itself so the probe (and the host) can recognise it.
PRE = """
import ctypes, os, signal, sys, time
_libc = ctypes.CDLL(None, use_errno=True)
_HX = "hx_$tag"  # this test session's marker: the host check must not see other sessions' programs
def _hx_name(kind="d"):
    _libc.prctl(15, (_HX + kind).encode()[:15], 0, 0, 0)
def _hx_daemonize():
    # double fork + setsid: the grandchild is an orphan in its own session, outside any process group
    pid = os.fork()
    if pid != 0:
        os.waitpid(pid, 0)
        return False
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    _hx_name()
    for fd in (0, 1, 2):
        try:
            os.close(fd)
        except OSError:
            pass
    return True
def _hx_wait_for_daemons(n):
    # proves the hostile state exists before the run ends (else the follow-up probe proves nothing)
    for _ in range(100):
        found = 0
        for p in os.listdir("/proc"):
            try:
                with open(f"/proc/{p}/cmdline", "rb") as fh:
                    cmd = fh.read()
                with open(f"/proc/{p}/comm", "rb") as fh:
                    comm = fh.read()
            except OSError:
                continue
            found += comm.startswith(b"hx_") or cmd.startswith(b"hx_")
        if found >= n:
            return
        time.sleep(0.01)
    raise RuntimeError("daemons did not start")
"""


@dataclass(frozen=True)
class Hostile:
    """One hostile program. `expected` is one status, or {"runc": ..., "runsc": ...} where the two
    runtimes document different outcomes (e.g. under runsc the candidate runs as another uid than
    the harness, so it cannot signal it at all)."""

    id: str
    code: str
    expected: VerdictStatus | dict[str, VerdictStatus]
    shape: str = "humaneval"  # humaneval | visible | pytest | program
    stdout_has: tuple[str, ...] = ()
    heavy: bool = False
    notes: str = ""
    leak_ok_on: frozenset[str] = frozenset()  # runtimes where an `HX_LEAK:` line is accepted
    tests: str = ""  # humaneval shape: tests of its own instead of CHECK (the right answer is never passed)

    def expected_for(self, runtime: str) -> VerdictStatus:
        return self.expected if isinstance(self.expected, str) else self.expected[runtime]

    def submission(self, subs: dict[str, str]) -> Submission:
        # The wrong `solve` comes first so a hostile `solve` defined by the case replaces it.
        if self.shape == "program":
            return Submission(code=Template(PRE + self.code).substitute(subs))
        code = Template(PRE + SOLVE_WRONG + self.code).substitute(subs)
        if self.shape == "visible":
            return Submission(code=code, asserts=ASSERTS)
        if self.shape == "pytest":
            return Submission(code=code, pytest=PYTEST)
        return Submission(code=code, tests=self.tests or CHECK, entry_point="solve")


def _probe(body: str) -> str:
    """Wrap a probing body: it reports escapes with `_esc(what)` and always finishes the look."""
    return (
        "def _esc(what):\n    print('HX_ESCAPED:' + what, flush=True)\n"
        + body
        + "\nprint('HX_PROBE_DONE', flush=True)\n"
    )


PROBE = ("HX_PROBE_DONE",)

HOSTILE: list[Hostile] = [
    # --- time -------------------------------------------------------------------------------------
    Hostile("cpu_spin_module", "while True:\n    pass\n", "timeout"),
    Hostile("cpu_spin_in_candidate", "def solve(x):\n    while True:\n        x += 1\n", "timeout"),
    Hostile("sleep_forever", "time.sleep(10**6)\n", "timeout"),
    Hostile(
        "swallowed_timeouts",
        """
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP, signal.SIGUSR1,
           signal.SIGUSR2, signal.SIGXCPU, signal.SIGVTALRM, signal.SIGPROF):
    signal.signal(_s, signal.SIG_IGN)
signal.alarm(0)
signal.setitimer(signal.ITIMER_REAL, 0)
while True:
    try:
        while True:
            time.sleep(0.05)
    except BaseException:
        pass
""",
        "timeout",
    ),
    Hostile("sigstop_self", "os.kill(os.getpid(), signal.SIGSTOP)\n", "timeout"),
    Hostile(
        "fork_bomb",
        """
while True:
    try:
        if os.fork() == 0:
            _hx_name("fb")
    except OSError:
        pass
""",
        {"runc": "timeout", "runsc": "memory"},
        heavy=True,
    ),
    # --- processes that outlive the run ------------------------------------------------------------
    Hostile(
        "setsid_daemon_orphans",
        """
if _hx_daemonize():
    while True:
        try:
            with open("/tmp/hx_daemon_was_here", "a") as fh:
                fh.write("x")
        except OSError:
            pass
        time.sleep(0.05)
if os.fork() == 0:
    os.setsid()
    os.execv("/bin/sleep", [_HX + "_sleeper", "100000"])
_hx_wait_for_daemons(2)
print("HX_DAEMONS_UP", flush=True)
""",
        "failed",
        stdout_has=("HX_DAEMONS_UP",),
    ),
    Hostile(
        "daemon_kills_future_runs",
        """
if _hx_daemonize():
    me = os.getpid()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for p in os.listdir("/proc"):
            if p.isdigit() and int(p) > me:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.01)
    os._exit(0)
""",
        "failed",
    ),
    Hostile(
        "orphan_holds_output_pipes",
        """
if os.fork() == 0:
    os.setsid()
    _hx_name("ph")
    time.sleep(10**6)
""",
        "failed",
    ),
    Hostile(
        "non_daemon_thread_forever",
        """
import threading
threading.Thread(target=lambda: time.sleep(10**6), daemon=False).start()
""",
        "failed",
    ),
    # --- memory, output, disk --------------------------------------------------------------------
    Hostile(
        "memory_bomb",
        """
_hx_blocks = []
while True:
    _hx_blocks.append(bytearray(8 * 2**20))
""",
        "memory",
        heavy=True,
    ),
    Hostile(
        "memory_bomb_swallowed",
        """
_hx_blocks = []
while True:
    try:
        _hx_blocks.append(bytearray(8 * 2**20))
    except MemoryError:
        pass
""",
        "timeout",
        notes="RLIMIT_AS turns the bomb into a catchable MemoryError; swallowing it just spins",
        heavy=True,
    ),
    Hostile(
        "memory_bomb_in_children",
        """
# RLIMIT_AS is per process: several children each under it together exceed the container's memory.
_hx_kids = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        _hx_name("mb")
        blocks = []
        try:
            while True:
                blocks.append(bytearray(4 * 2**20))
        except MemoryError:
            time.sleep(60)  # hold it until the siblings' memory adds up, however slow the host
            os._exit(0)
    _hx_kids.append(pid)
for pid in _hx_kids:
    os.waitpid(pid, 0)
""",
        "memory",
        heavy=True,
    ),
    Hostile("huge_stdout", "for _ in range(64):\n    sys.stdout.write('x' * 2**20)\n", "output_limit"),
    Hostile(
        "endless_raw_stdout",
        "while True:\n    os.write(1, b'y' * 65536)\n",
        "output_limit",
    ),
    Hostile("huge_stderr", "for _ in range(64):\n    sys.stderr.write('e' * 2**20)\n", "output_limit"),
    Hostile(
        "invalid_utf8_output",
        """
sys.stdout.flush()
os.write(1, b"\\xff\\xfe\\xc3\\x28\\x00\\x1b[31m\\xed\\xa0\\x80 HX_AFTER_BYTES\\n")
os.write(2, b"\\x80\\x81\\xfe\\xff HX_AFTER_ERR\\n")
""",
        "failed",
        stdout_has=("HX_AFTER_BYTES",),
    ),
    Hostile(
        "disk_fill",
        """
with open("/tmp/hx_fill", "wb") as fh:
    while True:
        fh.write(b"\\0" * 2**20)
        fh.flush()
""",
        "error",
    ),
    Hostile(
        "many_files_in_tmp",
        """
for d in range(10):
    os.makedirs(f"/tmp/hx_dir{d}", exist_ok=True)
    for i in range(150):
        open(f"/tmp/hx_dir{d}/hx_f{i}", "w").close()
for i in range(500):
    open(f"/tmp/hx_f{i}", "w").close()
""",
        "failed",
    ),
    Hostile(
        "deep_directory_tree",
        """
os.makedirs("/tmp/hx_deep", exist_ok=True)
os.chdir("/tmp/hx_deep")
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir("/tmp")
""",
        "failed",
    ),
    Hostile(
        "sysv_ipc_and_fifo",
        """
_libc.shmget.restype = ctypes.c_int
_hx_shm = _libc.shmget(0, 1 << 20, 0o1666)  # IPC_PRIVATE, IPC_CREAT|0666
_hx_sem = _libc.semget(0, 4, 0o1666)
_hx_msg = _libc.msgget(0, 0o1666)
os.mkfifo("/tmp/hx_fifo")
os.mkdir("/tmp/hx_locked")
open("/tmp/hx_locked/hx_inner", "w").close()
os.chmod("/tmp/hx_locked", 0)
if (_hx_shm, _hx_sem, _hx_msg) != (-1, -1, -1):
    print("HX_IPC_CREATED", flush=True)
""",
        "failed",
    ),
    # --- state left for the next run --------------------------------------------------------------
    Hostile(
        "state_for_next_run",
        """
import builtins, types
os.environ["HX_STATE"] = "1"
os.putenv("HX_STATE_PUT", "1")
sys.modules["hx_state"] = types.ModuleType("hx_state")
builtins.hx_state = 1
_real_len = builtins.len
builtins.len = lambda o: 0 if o == "hx" else _real_len(o)
for p in ("/tmp/hx_state", "/dev/shm/hx_state", os.path.expanduser("~/hx_state"), "hx_state_cwd"):
    try:
        with open(p, "w") as fh:
            fh.write("1")
    except OSError:
        pass
import socket
_hx_srv = socket.socket()
_hx_srv.bind(("127.0.0.1", 0))
_hx_srv.listen()
if _hx_daemonize():
    _keep = socket.socket()
    _keep.bind(("127.0.0.1", 0))
    _keep.listen()
    _unix = socket.socket(socket.AF_UNIX)
    _unix.bind("\\0hx_abstract")
    _unix.listen()
    time.sleep(10**6)
_hx_wait_for_daemons(1)
print("HX_STATE_PLANTED host=" + os.uname().nodename, flush=True)
""",
        "failed",
        stdout_has=("HX_STATE_PLANTED",),
    ),
    # --- network --------------------------------------------------------------------------------
    Hostile(
        "network",
        _probe("""
import socket
names = [n for _, n in socket.if_nameindex()]
if names != ["lo"]:
    _esc("interfaces " + ",".join(names))
try:
    with open("/proc/net/route") as fh:
        routes = fh.read().splitlines()[1:]
    if routes:
        _esc("routes " + repr(routes[:3]))
except OSError:
    pass
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((host, $port))
        _esc("reached the host loopback listener at " + host)
    except OSError:
        pass
    finally:
        s.close()
for path in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"):
    if os.path.exists(path):
        _esc("docker socket " + path)
# Names must not resolve. Only look one up when the kernel has nowhere to send the query: the sandbox
# has no interface but loopback (checked above), so nothing can leave this machine.
if names == ["lo"]:
    for name in ("hx-probe.invalid", "host.docker.internal"):
        try:
            socket.getaddrinfo(name, 80)
            _esc("resolved " + name)
        except OSError:
            pass
"""),
        "failed",
        stdout_has=PROBE,
    ),
    # --- reading what is not ours -------------------------------------------------------------------
    Hostile(
        "read_env_and_proc1",
        _probe("""
print("ENV", dict(os.environ))
for p in ("/proc/1/environ", "/proc/1/cmdline", "/proc/self/environ", "/proc/self/mountinfo"):
    try:
        with open(p, "rb") as fh:
            print(p, fh.read()[:4000])
    except OSError as exc:
        print(p, "denied", exc.errno)
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "read_host_files",
        _probe("""
for p in ("$secret_path", "/proc/1/root$secret_path", "/host$secret_path", "/work/main/pyproject.toml",
          "/etc/docker/daemon.json", "/root/.bash_history", "/var/lib/docker"):
    try:
        if os.path.isdir(p):
            _esc("host dir " + p)
            continue
        with open(p) as fh:
            data = fh.read(400)
        _esc("read " + p + " " + data)
    except OSError:
        pass
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "write_host_paths",
        _probe("""
for p in ("$forbidden", "/proc/1/root$forbidden", "/hx_root_file", "/etc/hx_etc", "/usr/lib/hx_lib"):
    try:
        with open(p, "w") as fh:
            fh.write("pwned")
        _esc("wrote " + p)
    except OSError:
        pass
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "symlink_tricks",
        _probe("""
links = {
    "/tmp/hx_root": "/proc/1/root",
    "/tmp/hx_secret": "$secret_path",
    "/tmp/hx_forbidden": "$forbidden",
    "/tmp/hx_selfroot": "/proc/self/root",
    "/tmp/hx_etc_passwd": "/etc/passwd",
}
for src, dst in links.items():
    try:
        os.symlink(dst, src)
    except OSError:
        pass
for p in ("/tmp/hx_secret", "/tmp/hx_root$secret_path", "/tmp/hx_selfroot$secret_path"):
    try:
        with open(p) as fh:
            _esc("read via link " + p + " " + fh.read(200))
    except OSError:
        pass
try:
    with open("/tmp/hx_forbidden", "w") as fh:
        fh.write("pwned")
    _esc("wrote through a link to the host path")
except OSError:
    pass
try:
    os.link("/etc/passwd", "/tmp/hx_hardlink")
except OSError:
    pass
# Links planted where a runner or judge might read or copy results from.
for d in ("/tmp", os.getcwd()):
    for name in ("result.json", "results.json", "verdict.json", "report.json", "output.json"):
        try:
            os.symlink("$secret_path", os.path.join(d, name))
        except OSError:
            pass
"""),
        "failed",
        stdout_has=PROBE,
    ),
    # --- privileges, kernel interfaces ------------------------------------------------------------
    Hostile(
        "mount",
        _probe("""
os.makedirs("/tmp/hx_mnt", exist_ok=True)
if _libc.mount(b"none", b"/tmp/hx_mnt", b"tmpfs", 0, None) == 0:
    _esc("mount tmpfs")
if _libc.mount(b"/proc", b"/tmp/hx_mnt", None, 4096, None) == 0:  # MS_BIND
    _esc("bind mount")
if _libc.umount2(b"/proc", 2) == 0:
    _esc("umount /proc")
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "unshare_setns",
        _probe("""
for flag, what in ((0x10000000, "user"), (0x00020000, "mount"), (0x40000000, "net"),
                   (0x20000000, "pid"), (0x10000000 | 0x00020000, "user+mount")):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _libc.unshare(flag) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        _esc("unshare " + what)
fd = os.open("/proc/1/ns/mnt", os.O_RDONLY) if os.access("/proc/1/ns/mnt", os.R_OK) else -1
if fd >= 0 and _libc.setns(fd, 0) == 0:
    _esc("setns into pid 1 mount namespace")
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "ptrace_runner",
        _probe("""
me = os.getpid()
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
for p in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
    if p == me:
        continue
    if _libc.ptrace(16, p, None, None) == 0:  # PTRACE_ATTACH
        _esc(f"ptrace attach {p}")
        _libc.ptrace(17, p, None, None)
    if _libc.ptrace(0x4206, p, None, None) == 0:  # PTRACE_SEIZE
        _esc(f"ptrace seize {p}")
        _libc.ptrace(17, p, None, None)
    try:
        with open(f"/proc/{p}/maps") as fh:
            maps = fh.read().splitlines()
        print(f"HX_LEAK:/proc/{p}/maps", flush=True)
    except OSError:
        maps = []
    for line in maps[:50]:
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if "r" not in line.split()[1]:
            continue
        try:
            with open(f"/proc/{p}/mem", "rb") as fh:
                fh.seek(lo)
                if fh.read(16):
                    _esc(f"read /proc/{p}/mem")
                    break
        except (OSError, ValueError, OverflowError):
            pass
    for f in ("stack", "syscall"):
        try:
            with open(f"/proc/{p}/{f}", "rb") as fh:
                fh.read(1)
            _esc(f"read /proc/{p}/{f}")
        except OSError:
            pass
    # Readable under gVisor (its procfs skips the ptrace read check): printed in full, so the test can
    # see that they carry no secret; reported as a leak, which only the runtimes in `leak_ok_on` allow.
    for f in ("environ", "auxv"):
        try:
            with open(f"/proc/{p}/{f}", "rb") as fh:
                print(f"HX_LEAK:/proc/{p}/{f}:", fh.read(600), flush=True)
        except OSError:
            pass
"""),
        "failed",
        stdout_has=PROBE,
        leak_ok_on=frozenset({"runsc"}),
        notes="runsc: /proc/<runner|harness>/{maps,environ,auxv} are readable (environ is PATH/LANG/HOME)",
    ),
    Hostile(
        "open_foreign_fds",
        _probe("""
# The runner's stdout is the host's result channel and the harness holds the result pipe: being
# able to open either (via /proc/<pid>/fd) would let the program forge its verdict.
me = os.getpid()
for p in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
    if p == me:
        continue
    try:
        fds = os.listdir(f"/proc/{p}/fd")
    except OSError:
        fds = [str(n) for n in range(0, 12)]
    for fd in fds:
        for flags in (os.O_WRONLY, os.O_RDONLY):
            try:
                opened = os.open(f"/proc/{p}/fd/{fd}", flags | os.O_NONBLOCK)
            except OSError:
                continue
            os.close(opened)
            _esc(f"opened /proc/{p}/fd/{fd} flags={flags}")
    for name in ("cwd", "root", "exe"):
        try:
            os.listdir(f"/proc/{p}/{name}") if name != "exe" else os.readlink(f"/proc/{p}/exe")
            _esc(f"/proc/{p}/{name}")
        except OSError:
            pass
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "steal_the_tests",
        _probe("""
# The harness reads the tests only after forking this process, and never sends them here: look for
# them in this process's own memory, in every /proc file and fd it can open, and in the scratch dirs.
# The marker is never built whole here (the compiler would fold `a + b` into one constant): look
# for its two halves side by side.
prefix, suffix = b"HXTESTSECRET", b"-91c2"
def found(buf):
    i = buf.find(prefix)
    while i >= 0:
        if buf[i + len(prefix):i + len(prefix) + len(suffix)] == suffix:
            return True
        i = buf.find(prefix, i + 1)
    return False
with open("/proc/self/maps") as fh:
    regions = [line.split() for line in fh.read().splitlines()]
# (read directly: a non-dumpable process may not open its own /proc/self/mem)
for fields in regions:
    lo, hi = (int(x, 16) for x in fields[0].split("-"))
    name = fields[5] if len(fields) > 5 else ""
    if fields[1][0] != "r" or hi - lo > 64 * 2**20 or name.startswith("[v") or name.startswith("/"):
        continue  # file mappings hold library code, not data this run received
    if found(ctypes.string_at(lo, hi - lo)):
        _esc("the tests are in the candidate's own memory")
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    for f in ["cmdline", "environ"] + [f"fd/{n}" for n in range(0, 8)]:
        try:
            fd = os.open(f"/proc/{p}/{f}", os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if found(os.read(fd, 1 << 20)):
                _esc(f"the tests in /proc/{p}/{f}")
        except OSError:
            pass
        finally:
            os.close(fd)
for root in ("/tmp", "/dev/shm"):
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                with open(os.path.join(dirpath, name), "rb") as fh:
                    if found(fh.read(1 << 20)):
                        _esc("the tests in " + os.path.join(dirpath, name))
            except OSError:
                pass
"""),
        "failed",
        stdout_has=PROBE,
    ),
    Hostile(
        "privileges",
        _probe("""
with open("/proc/self/status") as fh:
    status = dict(line.split(":", 1) for line in fh.read().splitlines() if ":" in line)
if int(status["CapEff"].strip(), 16) != 0:
    _esc("capabilities " + status["CapEff"].strip())
if status.get("NoNewPrivs", "1").strip() != "1":
    _esc("no_new_privs is off")
if os.getuid() == 0 or os.geteuid() == 0:
    _esc("running as root")
for fn, arg in ((os.setuid, 0), (os.setgid, 0)):
    try:
        fn(arg)
        _esc(f"{fn.__name__}(0)")
    except OSError:
        pass
for p in ("/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/sys/fs/cgroup", "/", "/etc", "/usr"):
    if os.access(p, os.W_OK):
        _esc("writable " + p)
if _libc.chroot(b"/tmp") == 0:
    _esc("chroot")
"""),
        "failed",
        stdout_has=PROBE,
    ),
    # --- crashes and stdin --------------------------------------------------------------------------
    Hostile("segfault_ctypes", "ctypes.string_at(0)\n", "error"),
    Hostile("input_at_eof", "_hx_line = input()\n", "error"),
    Hostile(
        "kill_minus_1",
        "os.kill(-1, signal.SIGKILL)\ntime.sleep(1)\n",
        "error",
    ),
    Hostile(
        "kill_everything_else",
        """
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != os.getpid():
        try:
            os.kill(int(p), signal.SIGKILL)
        except OSError:
            pass
time.sleep(0.5)
""",
        {"runc": "error", "runsc": "failed"},
    ),
    Hostile(
        "kill_runner_pid1", "try:\n    os.kill(1, signal.SIGKILL)\nexcept OSError:\n    pass\n", "failed"
    ),
    Hostile("os_abort", "def solve(x):\n    os.abort()\n", "error"),
    Hostile("kill_parent", "os.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(0.5)\n", "error"),
    # --- forgeries (issue point 4) ------------------------------------------------------------------
    Hostile("os_exit0_before_tests", "os._exit(0)\n", "error"),
    Hostile("sys_exit0_before_tests", "sys.exit(0)\n", "error"),
    Hostile(
        "os_exit0_during_tests",
        "def solve(x):\n    os._exit(0)\n",
        "error",
    ),
    Hostile(
        "sys_exit0_during_tests",
        "def solve(x):\n    sys.exit(0)\n",
        "error",
    ),
    Hostile(
        "raise_systemexit_in_check",
        "def solve(x):\n    raise SystemExit(0)\n",
        "error",
    ),
    Hostile(
        "raise_keyboardinterrupt_in_check",
        "def solve(x):\n    raise KeyboardInterrupt\n",
        "error",
    ),
    Hostile(
        "raise_baseexception_in_check",
        "class _HxEscape(BaseException):\n    pass\ndef solve(x):\n    raise _HxEscape()\n",
        "error",
    ),
    Hostile(
        "print_success_then_exit",
        """
import json
for line in ("passed", "PASSED", "OK", "ok", "All tests passed", "1 passed",
             json.dumps({"status": "passed", "passed": True, "tests": []})):
    print(line)
    print(line, file=sys.stderr)
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
""",
        "error",
    ),
    Hostile(
        "print_success_then_fail",
        """
import json
print(json.dumps({"status": "passed", "passed": True, "tests": [{"name": "check", "passed": True}]}))
print("passed")
""",
        "failed",
    ),
    Hostile(
        "monkeypatch_check_via_exec",
        """
import builtins
_real_exec = builtins.exec
def _hx_exec(src, g=None, l=None, *a, **k):
    _real_exec(src, g, l, *a, **k)
    for ns in (g, l):
        if isinstance(ns, dict) and "check" in ns:
            ns["check"] = lambda candidate: None
builtins.exec = _hx_exec
_real_compile = builtins.compile
def _hx_compile(src, *a, **k):
    if isinstance(src, str) and "def check" in src:
        src = "def check(candidate):\\n    pass\\n"
    return _real_compile(src, *a, **k)
builtins.compile = _hx_compile
""",
        "failed",
    ),
    Hostile(
        "delete_check_and_helpers",
        """
import builtins, gc, threading
def _hx_scrub():
    while True:
        g = sys.modules["__main__"].__dict__
        for name in ("check", "candidate"):
            g.pop(name, None)
        for mod in list(sys.modules.values()):
            d = getattr(mod, "__dict__", None)
            if isinstance(d, dict) and "check" in d and mod is not sys.modules[__name__]:
                d["check"] = lambda c: None
        time.sleep(0)
threading.Thread(target=_hx_scrub, daemon=True).start()
""",
        "failed",
    ),
    Hostile(
        "patch_assertionerror",
        """
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})
builtins.Exception = type("Exception", (BaseException,), {})
""",
        "failed",
    ),
    Hostile(
        "tracer_skips_asserts",
        """
def _hx_tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "check":
        return _hx_local
    return None
def _hx_local(frame, event, arg):
    if event == "line":
        last = max(l for _, _, l in frame.f_code.co_lines() if l is not None)
        try:
            frame.f_lineno = last + 1
        except ValueError:
            pass
    return _hx_local
sys.settrace(_hx_tracer)
import threading
threading.settrace(_hx_tracer)
""",
        "failed",
    ),
    Hostile(
        "forge_result_via_runner_stdout",
        """
# Write a complete, well-formed `passed` result into the runner's stdout (the host's channel).
import json, struct
_hx_rep = json.dumps({"status": "passed", "complete": True, "stdout": "", "stderr": "",
                      "tests": [{"name": "check(candidate)", "passed": True, "message": ""}]}).encode()
_hx_res = json.dumps({"op": "result", "outcome": "ok", "detail": "", "clean": True, "duration_ms": 1.0,
                      "report_len": len(_hx_rep)}).encode()
for _hx_pid in [1] + [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]:
    for _hx_fd in range(0, 16):
        try:
            _w = os.open(f"/proc/{_hx_pid}/fd/{_hx_fd}", os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(_w, struct.pack(">I", len(_hx_res)) + _hx_res
                     + struct.pack(">I", len(_hx_rep)) + _hx_rep)
        except OSError:
            pass
        os.close(_w)
""",
        "failed",
    ),
    Hostile(
        "close_channels",
        """
for fd in range(0, 1024):
    try:
        os.close(fd)
    except OSError:
        pass
""",
        "error",
    ),
    Hostile(
        "write_channels_then_exit",
        """
import json
forged = (json.dumps({"status": "passed", "passed": True, "tests": [{"name": "check", "passed": True}]})
          + "\\n").encode()
for fd in range(0, 1024):
    try:
        os.write(fd, forged)
    except OSError:
        pass
os._exit(0)
""",
        "error",
    ),
    Hostile(
        "write_garbage_to_channels",
        """
for fd in range(3, 1024):
    try:
        os.write(fd, b"\\xff\\x00garbage{{{\\n" * 100)
    except OSError:
        pass
""",
        "error",
    ),
    Hostile(
        "fd_exhaustion",
        """
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (32, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
_hx_fds = []
try:
    while True:
        _hx_fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
""",
        "failed",
    ),
    Hostile(
        "forged_reply_frames",
        """
import json, struct
def _hx_frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
for fd in (4, 5, 6):
    try:
        os.write(fd, _hx_frame(["ok"]) + _hx_frame(["val", 4]) + _hx_frame(["val", 9])
                 + _hx_frame(["val", True]) * 8)
    except OSError:
        pass
""",
        "error",
    ),
    Hostile(
        "always_equal_object",
        "class _HxAny:\n    def __eq__(self, other):\n        return True\n"
        "def solve(x):\n    return _HxAny()\n",
        "failed",
        notes="was `error` while only plain data crossed; now a reference, unequal to test data unasked",
    ),
    Hostile(
        "int_subclass_lies",
        "class _HxInt(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def solve(x):\n    return _HxInt(x + 1)\n",
        "failed",
    ),
    # --- richer plain data (issue 20 item 4): rebuilt in the harness from plain state -------------
    Hostile(
        "plain_subclasses_lie",
        "class _HxInt(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
        "    def __int__(self):\n        return 4 if int.__int__(self) == 3 else 9\n"
        "    def __index__(self):\n        return self.__int__()\n"
        "class _HxList(list):\n    def __iter__(self):\n        return iter([4])\n"
        "    def __eq__(self, o):\n        return True\n"
        "class _HxStr(str):\n    def __str__(self):\n        return '4'\n"
        "def solve(x):\n    return _HxInt(x + 1) if x == 2 else _HxList([x]) if x == 3 else _HxStr('no')\n",
        "failed",
        notes="the held value crosses, read by the base type's own methods",
    ),
    Hostile(
        "enum_and_namedtuple_lie",
        "import enum, collections\n"
        "class _HxE(enum.IntEnum):\n    A = 3\n    B = 4\n"
        "    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
        "class _HxT(collections.namedtuple('_HxT', 'v')):\n    def __eq__(self, o):\n        return True\n"
        "    __hash__ = tuple.__hash__\n"
        "def solve(x):\n    return _HxE.A if x == 2 else _HxT(0)\n",
        "failed",
        notes="rebuilt from members and fields: the harness's classes have no candidate methods",
    ),
    Hostile(
        "forged_rich_state",
        """
import json, struct
def _hx_frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
def solve(x):
    # a reply whose tags try to make the harness build something that runs code
    os.write(4, _hx_frame(["val", {"dd": ["os.system", []]}]))
    time.sleep(5)
""",
        "error",
        notes="an unknown factory is a protocol violation; nothing named by the candidate is imported",
    ),
    # --- output written through at call time (issue 20 item 5) -------------------------------------
    Hostile(
        "flood_inside_a_call",
        "def solve(x):\n    while True:\n        sys.stdout.write('y' * 65536)\n",
        "output_limit",
        notes="the limit counts the candidate's bytes wherever the tests send its output",
    ),
    Hostile(
        "partial_utf8_and_control_bytes",
        "def solve(x):\n    os.write(1, b'\\xe2\\x82')\n"
        "    os.write(2, b'\\x00\\x1b[2J\\xff')\n    return x + 1\n",
        "failed",
        notes="undecodable output is replaced, never interpreted",
    ),
    # --- exceptions rebuilt as the harness's own classes (issue 20 item 3) ---------------------------
    Hostile(
        "exception_lies",
        "class _HxErr(ValueError):\n    def __eq__(self, o):\n        return True\n"
        "    __hash__ = object.__hash__\n    def __str__(self):\n        return 'passed'\n"
        "    def __getattr__(self, name):\n        return 4\n"
        "def solve(x):\n    raise _HxErr(x)\n",
        "error",
        notes="the rebuilt class has none of the candidate's methods; an exception in a test is an error",
    ),
    Hostile(
        "exception_posing_as_assertion",
        "class _HxA(AssertionError):\n    pass\ndef solve(x):\n    raise _HxA()\n",
        "failed",
        notes="an AssertionError subclass makes the assert fail, as in-process",
    ),
    Hostile(
        "forged_exception_state",
        """
import json, struct
def _hx_frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
def solve(x):
    info = {"cls": 1, "classes": [[1, "X", ["os.system"]]], "args": [], "attrs": [], "str": None,
            "cause": None}
    os.write(4, _hx_frame(["exc", "X", "", False, "", info]))
    time.sleep(5)
""",
        "error",
        notes="a base that is not a builtin exception is a protocol violation",
    ),
    # --- mutation of passed containers mirrored back (issue 20 item 2) -----------------------------
    Hostile(
        "mutation_smuggles_a_liar",
        "class _HxAny:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
        "def solve(xs):\n    xs[:] = [_HxAny()]\n",
        "failed",
        tests="def check(candidate):\n    xs = [2]\n    candidate(xs)\n    assert xs == [4]\n",
        notes="what the candidate puts in a passed container crosses by the same rules as a return value:"
        " a reference, unequal to test data",
    ),
    Hostile(
        "mutation_state_forged",
        """
import json, struct
def _hx_frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
def solve(xs):
    # claim the passed list became a dict, then that it holds the harness's own argument list
    os.write(4, _hx_frame(["val", None, [None, {"d": []}]]))
    time.sleep(5)
""",
        "error",
        tests="def check(candidate):\n    xs = [2]\n    candidate(xs)\n    assert xs == [4]\n",
        notes="a state of another type, or of the wrong length, is a protocol violation",
    ),
    Hostile(
        "mutation_keeps_and_changes_later",
        "_hx_kept = []\n"
        "def solve(xs):\n    _hx_kept.append(xs)\n    for k in _hx_kept:\n        k[:] = [4]\n",
        "failed",
        tests="def check(candidate):\n    xs, ys = [1], [2]\n    candidate(xs)\n    xs[:] = [1]\n"
        "    candidate(ys)\n    assert xs == [4]\n",
        notes="a container the candidate kept is its own copy: later changes are not mirrored",
    ),
    # --- references across the boundary (issue 20 item 1) -------------------------------------------
    Hostile(
        "reference_with_lying_dunders",
        """
class _HxLiar:
    def __eq__(self, o):
        return True
    def __ne__(self, o):
        return False
    def __hash__(self):
        return hash(4)
    def __bool__(self):
        return True
    def __len__(self):
        return 4
    def __iter__(self):
        return iter([4])
    def __repr__(self):
        return "4"
    def __getattr__(self, name):
        return 4
def solve(x):
    return _HxLiar()
""",
        "failed",
        notes="compared with test-built data a reference is unequal, decided in the harness unasked",
    ),
    Hostile(
        "reference_with_looping_dunders",
        "class _HxLoop:\n    def __eq__(self, o):\n        while True:\n            pass\n"
        "    __hash__ = __repr__ = __getattr__ = __eq__\n"
        "def solve(x):\n    return _HxLoop() if x == 2 else [_HxLoop(), {'k': (_HxLoop(),)}]\n",
        "failed",
        notes="nothing of the candidate's runs for `==` with test data, nor for the report's text",
    ),
    Hostile(
        "spoofed_class",
        "class _HxFake:\n    @property\n    def __class__(self):\n        return int\n"
        "    def __eq__(self, o):\n        return True\n"
        "def solve(x):\n    return _HxFake()\n",
        "failed",
        notes="the stand-in's type comes from type(), which __class__ cannot spoof",
    ),
    Hostile(
        "callback_kept_and_called_after_return",
        """
import threading
def solve(f, x):
    def later():
        for _ in range(50):
            try:
                f(x)
                print("HX_ESCAPED:a kept callback ran after its call", flush=True)
            except RuntimeError:
                pass
            time.sleep(0.01)
        print("HX_PROBE_DONE", flush=True)
    threading.Thread(target=later).start()
    return x + 1
""",
        "failed",
        tests="def check(candidate):\n    assert candidate(lambda v: v * v, 2) == 4\n"
        "    import time\n    time.sleep(1)\n",
        stdout_has=PROBE,
        notes="outside a call from the tests (another thread, or after it returned) a callback raises",
    ),
    Hostile(
        "callback_a_million_times",
        "def solve(f, x):\n    for i in range(10**6):\n        f(i)\n    return x + 1\n",
        "timeout",
        tests="def check(candidate):\n    assert candidate(lambda v: v * v, 2) == 4\n",
    ),
    Hostile(
        "recursion_through_callbacks",
        "def solve(f, x):\n    return f(x)\n",
        "error",
        tests="def check(candidate):\n    def again(n):\n        return candidate(again, n + 1)\n"
        "    assert candidate(again, 0) == 4\n",
        notes="calls nested deeper than 50 levels end the run",
    ),
    Hostile(
        "generator_never_ends",
        "def solve(x):\n    while True:\n        yield x\n",
        "timeout",
        tests="def check(candidate):\n    assert list(candidate(2)) == [4]\n",
    ),
    Hostile(
        "callback_attributes",
        _probe("""
def solve(f, x):
    for name in ("__globals__", "__code__", "__closure__", "__defaults__", "__dict__", "__self__",
                 "__wrapped__", "__func__"):
        try:
            got = getattr(f, name)
        except AttributeError:
            continue
        _esc("callback attribute " + name + " " + repr(got)[:80])
    import gc
    for obj in gc.get_referents(f):
        if "HXTESTSECRET" in repr(obj):
            _esc("the tests through the callback")
    return x + 1
"""),
        "failed",
        tests="def check(candidate):\n    # HXTESTSECRET-91c2\n    secret = 4\n"
        "    assert candidate(lambda v: v * secret, 2) == 4\n",
        stdout_has=PROBE,
        notes="a callback is a number in the candidate: nothing of the harness's function crosses",
    ),
    Hostile(
        "forged_callback_handle",
        "from rfx_sandbox.candidate import Callback\ndef solve(x):\n    return Callback(0)(x) if x else x\n",
        "error",
        notes="a handle the tests never passed is a protocol violation",
    ),
    Hostile(
        "forged_reference",
        """
import json, struct
def _hx_frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
def solve(x):
    os.write(4, _hx_frame(["val", {"o": [424242]}, [None, None]]))
    time.sleep(5)
""",
        "error",
        notes="a reference the candidate never described is a protocol violation",
    ),
    Hostile(
        "deeply_nested_return",
        "def solve(x):\n    v = []\n    for _ in range(200000):\n        v = [v]\n    return v\n",
        "error",
    ),
    Hostile(
        "fork_bomb_uncaught",
        """
while True:
    os.fork()
""",
        {"runc": "error", "runsc": "memory"},
        heavy=True,
    ),
    # --- the other submission shapes ----------------------------------------------------------------
    Hostile("visible_os_exit0", "def solve(x):\n    os._exit(0)\n", "error", shape="visible"),
    Hostile("visible_print_success", "print('passed')\nprint('ok')\n", "failed", shape="visible"),
    Hostile(
        "program_os_exit0_midway",
        "print('half done')\nos._exit(0)\nprint('never')\n",
        "error",
        shape="program",
    ),
    # --- pytest must not be a way in (issue 21): every file pytest might read, written everywhere --
    Hostile(
        "pytest_files_where_pytest_looks",
        r"""
_CONFTEST = '''
import pytest
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
def pytest_collection_modifyitems(items):
    items[:] = [i for i in items if "3" not in i.name]
'''
_CONFIGS = {
    "conftest.py": _CONFTEST,
    "hx_evil.py": _CONFTEST,
    "pytest.ini": "[pytest]\naddopts = -p hx_evil -p no:python\n",
    "tox.ini": "[pytest]\naddopts = -p hx_evil\n",
    "setup.cfg": "[tool:pytest]\naddopts = -p hx_evil\n",
    "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-p hx_evil'\n",
    "sitecustomize.py": "import hx_evil\n",
    "usercustomize.py": "import hx_evil\n",
    "hx.pth": "import hx_evil\n",
    "pytest_hx.pth": "import sys; sys.path.insert(0, '/tmp')\n",
}
_written = 0
for _d in ("/tmp", os.getcwd(), os.path.expanduser("~"), "/tmp/__pycache__", "/opt/rfx/pytest",
           "/opt/rfx/pytest/__pycache__", "/opt/rfx/pylib", "/opt/rfx", "/"):
    try:
        os.makedirs(_d, exist_ok=True)
    except OSError:
        continue
    for _name, _text in _CONFIGS.items():
        try:
            with open(os.path.join(_d, _name), "w") as _f:
                _f.write(_text)
            _written += 1
        except OSError:
            pass
    # a cached test module that passes, under the names pytest would give its pyc
    for _tag in ("cpython-311-pytest-9.2.0", "cpython-311"):
        try:
            import marshal
            _code = compile("def test_solve():\n    pass\n", "/opt/rfx/pytest/test_solution.py", "exec")
            with open(os.path.join(_d, "test_solution.%s.pyc" % _tag), "wb") as _f:
                _f.write(b"\x00" * 16 + marshal.dumps(_code))
            _written += 1
        except OSError:
            pass
if _written:
    print("HX_WROTE_PYTEST_FILES")
""",
        "failed",
        shape="pytest",
        stdout_has=("HX_WROTE_PYTEST_FILES",),
    ),
    Hostile(
        "pytest_patched_in_the_candidate",
        """
sys.path.append("/opt/rfx/pylib")
try:
    import pytest, _pytest.runner, _pytest.reports
    _pytest.reports.TestReport.failed = property(lambda self: False)
    _pytest.reports.TestReport.passed = property(lambda self: True)
    pytest.approx = lambda *a, **k: True
    sys.modules["solution"] = sys.modules[__name__]
    print("HX_PATCHED_PYTEST")
except Exception as _e:
    print("HX_NO_PYTEST", _e)
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})
""",
        "failed",
        shape="pytest",
        stdout_has=("HX_PATCHED_PYTEST",),
    ),
    Hostile(
        "pytest_summary_line_printed",
        r"""
_LINE = "============================== 3 passed in 0.01s ===============================\n"
print(_LINE, end="")
os.write(1, _LINE.encode())
os.write(2, _LINE.encode())
def solve(x):
    print(_LINE, end="")
    sys.stderr.write(_LINE)
    return x + 1
""",
        "failed",
        shape="pytest",
        stdout_has=("3 passed in 0.01s",),
    ),
]

# The subset also run on the fresh-container judges: one or more of every kind in the list.
FRESH = frozenset(
    {
        "cpu_spin_module",
        "sleep_forever",
        "fork_bomb",
        "setsid_daemon_orphans",
        "memory_bomb",
        "memory_bomb_in_children",
        "huge_stdout",
        "disk_fill",
        "deep_directory_tree",
        "network",
        "read_env_and_proc1",
        "read_host_files",
        "symlink_tricks",
        "mount",
        "unshare_setns",
        "ptrace_runner",
        "open_foreign_fds",
        "privileges",
        "segfault_ctypes",
        "input_at_eof",
        "kill_minus_1",
        "os_exit0_before_tests",
        "print_success_then_exit",
        "forge_result_via_runner_stdout",
        "close_channels",
        "write_channels_then_exit",
        # the boundary (issue 20): lying objects, forged references and states, callbacks
        "reference_with_lying_dunders",
        "exception_lies",
        "mutation_state_forged",
        "forged_reference",
        "recursion_through_callbacks",
        "callback_attributes",
        # pytest (issue 21): the files pytest might read
        "pytest_files_where_pytest_looks",
    }
)
assert {case.id for case in HOSTILE} >= FRESH
