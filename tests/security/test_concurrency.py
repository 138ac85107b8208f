"""Fifty submissions at once, good, wrong, crashing, hanging and hostile mixed: every verdict is right.

Run on the pooled judges (one worker: all fifty queue for the same container, the harshest case for
mixing up runs); fresh mode would only measure container start-up fifty times on two cores.

Each submission's expected status and values are unique to it (a per-index constant), so a verdict
delivered to the wrong caller, or output mixed between runs, fails the test.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from app.reflexion.models import Submission, VerdictStatus
from tests.security.conftest import LIMITS, SHORT, VariantJudge
from tests.security.test_hostile import describe


def submission(i: int) -> tuple[Submission, VerdictStatus, str]:
    """Submission number i, the status it must get, and a marker it prints."""
    marker = f"RUN-{i:02d}-MARK"
    tests = f"def check(candidate):\n    assert candidate(3) == {3 * i}\n    assert candidate(5) == {5 * i}\n"
    kind = i % 10
    status: VerdictStatus
    if kind in (0, 1, 2, 3, 4):
        body, status = f"    return x * {i}\n", "passed"
    elif kind in (5, 6):
        body, status = f"    return x * {i} + 1\n", "failed"
    elif kind == 7:
        body, status = "    raise ValueError('nope')\n", "error"
    elif kind == 8:
        body, status = "    import os\n    os._exit(0)\n", "error"
    else:
        body, status = f"    return x * {i}\n", "passed"
        if i == 49:  # two hostile ones among the fifty: a hang and a CPU spin
            body, status = "    import time\n    time.sleep(10**6)\n", "timeout"
        elif i == 39:
            body, status = "    while True:\n        x += 1\n", "timeout"
    code = f"print({marker!r})\ndef f(x):\n{body}"
    return Submission(code=code, tests=tests, entry_point="f"), status, marker


async def test_fifty_concurrent_submissions(pooled_judge: VariantJudge) -> None:
    cases = [submission(i) for i in range(50)]
    verdicts = await asyncio.gather(
        *(pooled_judge.judge.judge(sub, SHORT if status == "timeout" else LIMITS) for sub, status, _ in cases)
    )
    wrong = [
        f"#{i}: expected {status}, {describe(v)}"
        for i, ((_, status, _), v) in enumerate(zip(cases, verdicts, strict=True))
        if v.status != status
    ]
    assert not wrong, "\n".join(wrong)
    for i, ((_, _, marker), v) in enumerate(zip(cases, verdicts, strict=True)):
        others = [f"RUN-{j:02d}-MARK" for j in range(50) if j != i]
        assert not any(o in v.stdout for o in others), f"#{i} got another run's output: {v.stdout[:200]!r}"
        if v.status in ("passed", "failed"):
            assert marker in v.stdout, f"#{i} lost its own output: {describe(v)}"
    assert Counter(v.status for v in verdicts) == Counter(status for _, status, _ in cases)
