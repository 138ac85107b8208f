"""`rfx bench` never gives a problem feedback that checks nothing, nor the hidden tests unasked.

26 of HumanEval's 164 problems yield no visible tests from their docstrings. Under the default
feedback (and under `--feedback visible`) they get the model's own tests; only `--feedback oracle`
shows the hidden tests; self_refine never sees a judge.
"""

from __future__ import annotations

import pytest

from app.benchmark.datasets import load_benchmark
from app.benchmark.runner import problem_config
from app.reflexion.models import EpisodeConfig, Task


@pytest.fixture(scope="module")
def humaneval() -> list[Task]:
    return load_benchmark()


def test_problems_without_visible_tests_get_self_tests_never_oracle(humaneval: list[Task]) -> None:
    bare = [t for t in humaneval if not t.visible_tests]
    assert len(humaneval) == 164 and len(bare) == 26
    for feedback in (None, "visible"):
        config = EpisodeConfig(strategy="reflexion", feedback=feedback)
        resolved = {problem_config(config, t).resolved_feedback(t) for t in bare}
        assert resolved == {"self_tests"}, feedback
        with_tests = {problem_config(config, t).resolved_feedback(t) for t in humaneval if t.visible_tests}
        assert with_tests == {"visible"}
        assert all(problem_config(config, t).feedback_problem(t) is None for t in humaneval)


def test_explicit_choices_and_self_refine_are_kept(humaneval: list[Task]) -> None:
    bare = next(t for t in humaneval if not t.visible_tests)
    oracle = EpisodeConfig(strategy="reflexion", feedback="oracle")
    assert problem_config(oracle, bare) == oracle
    refine = EpisodeConfig(strategy="self_refine")
    assert problem_config(refine, bare).resolved_feedback(bare) == "none"
    own = EpisodeConfig(strategy="best_of_n", feedback="self_tests")
    assert problem_config(own, bare) == own
