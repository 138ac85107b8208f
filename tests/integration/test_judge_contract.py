"""One contract, every judge: pooled and fresh, runc and runsc, real containers."""

from __future__ import annotations

import pytest

from app.judge import DockerJudge
from app.reflexion.models import JudgeLimits, Submission

pytestmark = pytest.mark.slow

ADD = "def add(a, b):\n    return a + b\n"
WRONG_ADD = "def add(a, b):\n    return a + b + (1 if a == 2 else 0)\n"
CHECK_ADD = (
    "def check(candidate):\n"
    "    assert candidate(1, 2) == 3\n"
    "    assert candidate(2, 2) == 4\n"
    "    for i in range(5):\n"
    "        assert candidate(i, 0) == i\n"
)
SHORT = JudgeLimits(timeout_s=2)


def humaneval(code: str, tests: str = CHECK_ADD, entry_point: str = "add") -> Submission:
    return Submission(code=code, tests=tests, entry_point=entry_point)


class TestJudgeContract:
    async def test_correct_solution_passes_with_one_result_per_assert(
        self, sandbox_judge: DockerJudge
    ) -> None:
        verdict = await sandbox_judge.judge(humaneval(ADD))
        assert verdict.status == "passed", verdict
        assert [t.name for t in verdict.tests] == [
            "assert candidate(1, 2) == 3",
            "assert candidate(2, 2) == 4",
            "assert candidate(i, 0) == i",
        ]
        assert all(t.passed for t in verdict.tests)
        assert verdict.duration_ms > 0

    async def test_wrong_answer_fails_and_says_expected_vs_actual(self, sandbox_judge: DockerJudge) -> None:
        verdict = await sandbox_judge.judge(humaneval(WRONG_ADD))
        assert verdict.status == "failed"
        failing = verdict.failing()
        assert [t.name for t in failing] == ["assert candidate(2, 2) == 4", "assert candidate(i, 0) == i"]
        assert failing[0].message == "candidate(2, 2) returned 5, expected 4"
        assert verdict.tests[0].passed

    async def test_visible_asserts_are_reported_one_by_one(self, sandbox_judge: DockerJudge) -> None:
        code = "def f(x):\n    return x + 2\n"
        asserts = ["assert f(2) == 3", "assert f(1) == 3"]
        verdict = await sandbox_judge.judge(Submission(code=code, asserts=asserts))
        assert verdict.status == "failed"
        assert [(t.name, t.passed, t.message) for t in verdict.tests] == [
            ("assert f(2) == 3", False, "f(2) returned 4, expected 3"),
            ("assert f(1) == 3", True, ""),
        ]

    async def test_program_mode_passes_when_it_runs_to_the_end(self, sandbox_judge: DockerJudge) -> None:
        code = "print('hello')\nimport sys\nprint('oops', file=sys.stderr)"
        verdict = await sandbox_judge.judge(Submission(code=code))
        assert verdict.status == "passed"
        assert verdict.stdout == "hello\n" and verdict.stderr == "oops\n"
        assert [t.name for t in verdict.tests] == ["program runs to the end"]

    @pytest.mark.parametrize(
        ("code", "needle"),
        [
            ("raise ValueError('bad input')\ndef add(a, b):\n    return a + b\n", "ValueError: bad input"),
            ("def add(a, b):\n    return a +\n", "SyntaxError"),
            ("import sys\nsys.exit(0)\n", "SystemExit"),
            ("import os\nos._exit(0)\n", "exited with code 0"),
            ("def add(a, b):\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
            ("def add(a, b):\n    import os\n    os._exit(0)\n", "exited with code 0"),
            ("def add(a, b):\n    return [][1]\n", "IndexError"),
        ],
        ids=[
            "raise-at-load",
            "syntax",
            "sys-exit",
            "os-exit-at-load",
            "keyboard-interrupt-in-test",
            "os-exit-in-test",
            "raise-in-test",
        ],
    )
    async def test_a_program_that_raises_or_exits_is_an_error(
        self, sandbox_judge: DockerJudge, code: str, needle: str
    ) -> None:
        verdict = await sandbox_judge.judge(humaneval(code))
        assert verdict.status == "error", verdict
        text = verdict.detail + " ".join(t.message for t in verdict.tests)
        assert needle in text, verdict

    async def test_output_is_written_through_at_call_time(self, sandbox_judge: DockerJudge) -> None:
        """What the candidate prints inside a call reaches the tests' current stdout then (a test
        capturing it sees it); the tests' own prints and uncaptured output land in the report."""
        code = "print('loaded')\ndef add(a, b):\n    print('adding', a, b)\n    return a + b\n"
        tests = (
            "import contextlib, io\n"
            "def check(candidate):\n"
            "    buf = io.StringIO()\n"
            "    with contextlib.redirect_stdout(buf):\n"
            "        total = candidate(1, 2)\n"
            "    assert buf.getvalue() == 'adding 1 2\\n'\n"
            "    print('the test speaks')\n"
            "    assert candidate(2, 2) == 4\n"
        )
        verdict = await sandbox_judge.judge(humaneval(code, tests))
        assert verdict.status == "passed", verdict
        assert verdict.stdout == "loaded\nthe test speaks\nadding 2 2\n"

    async def test_infinite_loop_times_out_with_partial_results(self, sandbox_judge: DockerJudge) -> None:
        code = "def add(a, b):\n    while a == 2:\n        pass\n    return a + b\n"
        verdict = await sandbox_judge.judge(humaneval(code), SHORT)
        assert verdict.status == "timeout"
        assert verdict.tests[0].passed  # candidate(1, 2) ran before the loop
        assert not verdict.tests[1].passed

    async def test_memory_hog_is_a_memory_verdict(self, sandbox_judge: DockerJudge) -> None:
        verdict = await sandbox_judge.judge(Submission(code="x = bytearray(4 * 1024**3)\n"), SHORT)
        assert verdict.status == "memory"

    async def test_flood_of_output_is_an_output_limit(self, sandbox_judge: DockerJudge) -> None:
        verdict = await sandbox_judge.judge(Submission(code="while True:\n    print('x' * 1000)\n"), SHORT)
        assert verdict.status == "output_limit"
        assert 0 < len(verdict.stdout) < 10_000  # truncated for the verdict

    async def test_objects_with_fake_equality_cannot_pass(self, sandbox_judge: DockerJudge) -> None:
        code = (
            "class Yes:\n    def __eq__(self, other):\n        return True\n"
            "def add(a, b):\n    return Yes()\n"
        )
        verdict = await sandbox_judge.judge(humaneval(code))
        assert verdict.status == "failed"  # compared with test-built data, it is unequal: never asked
        message = verdict.tests[0].message
        assert message == "candidate(1, 2) returned <Yes object of the submission>, expected 3"
        assert not verdict.tests[0].answered_by_candidate

    async def test_asserts_answered_by_the_candidates_own_code_are_marked(
        self, sandbox_judge: DockerJudge
    ) -> None:
        code = (
            "class P:\n    def __init__(self, x):\n        self.x = x\n"
            "    def __eq__(self, o):\n        return self.x == o.x\n    __hash__ = object.__hash__\n"
            "def add(a, b):\n    return P(a + b)\n"
        )
        tests = (
            "def check(candidate):\n"
            "    assert candidate(1, 2) == candidate(2, 1)\n"  # its own __eq__ answers
            "    assert candidate(1, 2).x == 3\n"  # a plain value read from it: compared here
            "    assert candidate(1, 2) != 3\n"  # against test data: decided here, unasked
        )
        verdict = await sandbox_judge.judge(humaneval(code, tests))
        assert verdict.status == "passed", verdict
        assert [t.answered_by_candidate for t in verdict.tests] == [True, False, False]

    async def test_calls_nest_both_ways_to_depth_50_then_the_run_ends(
        self, sandbox_judge: DockerJudge
    ) -> None:
        """Each level down is a call to the program and its call back to the tests, 2 deep: 25 of
        each is 50, one more call is 51."""
        code = "def add(f, n):\n    return f(n)\n"
        tests = (
            "def check(candidate):\n"
            "    def again(n):\n"
            "        return n if n == LIMIT else candidate(again, n + 1)\n"
            "    assert candidate(again, 0) == LIMIT\n"
        )
        deep_enough = await sandbox_judge.judge(humaneval(code, "LIMIT = 24\n" + tests))
        assert deep_enough.status == "passed", deep_enough
        too_deep = await sandbox_judge.judge(humaneval(code, "LIMIT = 25\n" + tests))
        assert too_deep.status == "error"
        assert "nested deeper than 50" in too_deep.detail

    async def test_asyncio_tasks_futures_and_locks_are_refused_by_name(
        self, sandbox_judge: DockerJudge
    ) -> None:
        code = "import asyncio\ndef add(a, b):\n    return asyncio.Lock()\n"
        verdict = await sandbox_judge.judge(humaneval(code))
        assert verdict.status == "error"
        assert "an asyncio Lock cannot be shared with the tests" in verdict.tests[0].message

    async def test_system_exit_inside_a_call_reaches_the_test_that_made_it(
        self, sandbox_judge: DockerJudge
    ) -> None:
        code = "import sys\ndef add(a, b):\n    sys.exit(a + b)\n"
        tests = (
            "def check(candidate):\n"
            "    try:\n        candidate(1, 2)\n"
            "    except SystemExit as stop:\n        assert stop.code == 3\n"
        )
        verdict = await sandbox_judge.judge(humaneval(code, tests))
        assert verdict.status == "passed", verdict

    async def test_no_trace_of_a_run_reaches_the_next(self, sandbox_judge: DockerJudge) -> None:
        plant = (
            "import os, subprocess\nopen('/tmp/secret', 'w').write('s3cret')\n"
            "subprocess.Popen(['sleep', '30'], start_new_session=True)\n"
        )
        assert (await sandbox_judge.judge(Submission(code=plant))).status == "passed"
        look = (
            "import os\nprocs = [p for p in os.listdir('/proc') if p.isdigit()]\n"
            "print(sorted(os.listdir('/tmp')), len(procs))\n"
        )
        verdict = await sandbox_judge.judge(Submission(code=look))
        assert verdict.status == "passed"
        # runner (1), harness and candidate: nothing left of the planted process or file
        assert verdict.stdout == "[] 3\n"

    async def test_sandbox_has_no_network_no_privileges_and_a_read_only_root(
        self, sandbox_judge: DockerJudge
    ) -> None:
        probe = (
            "import os, socket\n"
            "print(os.getuid(), os.getgid())\n"
            "root = [ln.split() for ln in open('/proc/self/mounts') if ln.split()[1] == '/'][-1]\n"
            "print('root', root[3].split(',')[0])\n"
            "s = socket.socket()\n"
            "try:\n    s.connect(('127.0.0.1', 9))\n"
            "except OSError as e:\n    print('net', type(e).__name__)\n"
            "print(sorted(k for k in os.environ))\n"
            "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        )
        verdict = await sandbox_judge.judge(Submission(code=probe))
        assert verdict.status == "passed", verdict
        lines = verdict.stdout.splitlines()
        assert lines[0] == "65534 65534"
        assert lines[1] == "root ro"
        assert lines[2] == "net ConnectionRefusedError" or lines[2].startswith("net ")
        assert lines[3] == "['HOME', 'LANG', 'PATH']"
        assert lines[4] == "0000000000000000"

    async def test_the_candidate_cannot_reach_the_runner_or_the_harness(
        self, sandbox_judge: DockerJudge
    ) -> None:
        probe = (
            "import os, ctypes\n"
            "denied = []\n"
            "for pid in (1, os.getppid()):\n"
            "    targets = ((f'/proc/{pid}/fd/1', os.O_WRONLY), (f'/proc/{pid}/mem', os.O_RDONLY))\n"
            "    for path, flags in targets:\n"
            "        try:\n"
            "            os.close(os.open(path, flags))\n"
            "        except PermissionError:\n"
            "            denied.append(path)\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "traced = [libc.ptrace(16, pid, 0, 0) for pid in (1, os.getppid())]\n"
            "print(len(denied), traced)\n"
            "def add(a, b):\n"
            "    return a - b\n"
        )
        verdict = await sandbox_judge.judge(humaneval(probe))
        assert verdict.status == "failed"  # the wrong answer stays wrong
        assert verdict.stdout == "4 [-1, -1]\n"

    async def test_threads_work(self, sandbox_judge: DockerJudge) -> None:
        code = (
            "from concurrent.futures import ThreadPoolExecutor\n"
            "def add(a, b):\n"
            "    with ThreadPoolExecutor(2) as pool:\n"
            "        return sum(pool.map(int, [a, b]))\n"
        )
        assert (await sandbox_judge.judge(humaneval(code))).status == "passed"
