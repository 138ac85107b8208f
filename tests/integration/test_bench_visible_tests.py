"""The visible tests derived from HumanEval's docstrings hold for the reference solutions, in the sandbox.

Derivation only parses text, so this is the check that it parses the right thing: every derived
assert runs against the canonical solution in the real judge. Exactly four fail, and they are errors
in HumanEval's own docstring examples (kept, not patched: the report counts feedback and hidden
verdicts separately for that reason).
"""

from __future__ import annotations

import asyncio

import pytest

from app.benchmark.datasets import load_benchmark
from app.reflexion.models import Submission
from tests.fixtures.judge import JudgeFactory

KNOWN_WRONG_EXAMPLES = {
    ("HumanEval/47", "assert abs(median([-10, 4, 6, 1000, 10, 20]) - 15.0) < 1e-6"),
    ("HumanEval/116", "assert sort_array([1, 5, 2, 3, 4]) == [1, 2, 3, 4, 5]"),
    ("HumanEval/116", "assert sort_array([-2, -3, -4, -5, -6]) == [-6, -5, -4, -3, -2]"),
    ("HumanEval/148", "assert bf('Earth', 'Mercury') == 'Venus'"),
}


@pytest.mark.timeout(900)
async def test_derived_visible_tests_pass_on_canonical_solutions(judge_factory: JudgeFactory) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc")
    tasks = [t for t in load_benchmark() if t.visible_tests]
    assert len(tasks) == 138

    async def failing(task_id: str, code: str, asserts: list[str]) -> set[tuple[str, str]]:
        verdict = await judge.judge(Submission(code=code, asserts=asserts))
        assert verdict.status in ("passed", "failed"), (task_id, verdict.status, verdict.detail)
        assert len(verdict.tests) == len(asserts)
        return {(task_id, asserts[i]) for i, t in enumerate(verdict.tests) if not t.passed}

    results = await asyncio.gather(
        *(failing(t.id, t.prompt + (t.canonical_solution or ""), t.visible_tests) for t in tasks)
    )
    assert set().union(*results) == KNOWN_WRONG_EXAMPLES
