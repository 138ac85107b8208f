"""Budget-matched comparison figures (issue 22 item 5) against values worked out by hand."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb
from pathlib import Path

import matplotlib.image
import pytest

from app.benchmark.report import by_strategy, write_report
from app.reflexion import comparison, metrics
from app.reflexion.models import Attempt, Episode, Resample, TestResult, Usage, Verdict
from tests.unit.test_metrics import TASK, episode


def with_task(ep: Episode, task_id: str) -> Episode:
    ep.task = TASK.model_copy(update={"id": task_id})
    return ep


# ---- exact McNemar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gained", "lost", "expected"),
    [
        (0, 0, Fraction(1)),
        (5, 0, Fraction(2, 32)),
        (10, 0, Fraction(2, 1024)),
        (9, 1, Fraction(2 * (1 + 10), 1024)),
        (3, 3, Fraction(1)),
        (6, 2, Fraction(2 * (1 + 8 + 28), 256)),
        (1, 0, Fraction(1)),
    ],
)
def test_mcnemar_exact_matches_the_binomial_tail(gained: int, lost: int, expected: Fraction) -> None:
    assert comparison.mcnemar_exact(gained, lost) == pytest.approx(float(expected), rel=1e-15)
    assert comparison.mcnemar_exact(lost, gained) == comparison.mcnemar_exact(gained, lost)


def test_mcnemar_exact_is_exact_for_large_counts() -> None:
    # 60 against 40: the tail sum in integers, no normal approximation
    tail = sum(comb(100, i) for i in range(41))
    assert comparison.mcnemar_exact(60, 40) == pytest.approx(float(Fraction(2 * tail, 2**100)), rel=1e-15)
    with pytest.raises(ValueError):
        comparison.mcnemar_exact(-1, 2)


# ---- paired flips, rates, error kinds, curves -------------------------------------------------------------


def test_paired_flips_against_single_by_task() -> None:
    single = [
        with_task(episode("single", [ok], max_trials=1), f"T/{i}") for i, ok in enumerate([0, 0, 1, 1, 0])
    ]
    finals = [True, False, True, False, True]
    strategy = [with_task(episode("reflexion", [False, ok]), f"T/{i}") for i, ok in enumerate(finals)]
    strategy.append(with_task(episode("reflexion", [True]), "T/only-here"))  # not paired
    flips = comparison.paired_flips(strategy, single)
    assert (flips.problems, flips.gained, flips.lost, flips.both_right, flips.both_wrong) == (5, 2, 1, 1, 1)
    assert flips.p_value == 1.0


def _verdict(status: str, message: str = "", detail: str = "") -> Verdict:
    passed = status == "passed"
    return Verdict(status=status, detail=detail, tests=[TestResult(name="t", passed=passed, message=message)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdict", "code", "kind"),
    [
        (_verdict("passed"), "x", None),
        (_verdict("error", "NameError: name 'math' is not defined"), "x", "syntax/name error"),
        (
            _verdict("error", "", "the program raised SyntaxError: invalid syntax while loading"),
            "x",
            "syntax/name error",
        ),
        (_verdict("error", "IndexError: list index out of range"), "x", "other exception"),
        (_verdict("memory", "", "killed by the memory limit"), "x", "other exception"),
        (_verdict("failed", "f(1) returned 2, expected 3"), "x", "wrong value"),
        (_verdict("timeout"), "x", "timeout"),
        (_verdict("error", "", "the reply has no Python code block"), "", "syntax/name error"),
    ],
)
def test_error_kinds(verdict: Verdict, code: str, kind: str | None) -> None:
    assert comparison.error_kind(Attempt(trial=1, code=code, hidden=verdict)) == kind


def test_errors_fixed_counts_first_kinds_and_final_outcomes() -> None:
    def run(first: Verdict, final_ok: bool) -> Episode:
        ep = episode("reflexion", [False, final_ok])
        ep.attempts[0].hidden = first
        return ep

    eps = [
        run(_verdict("error", "NameError: x"), True),
        run(_verdict("error", "NameError: y"), False),
        run(_verdict("failed", "returned 1, expected 2"), True),
        episode("reflexion", [True]),
    ]
    table = comparison.errors_fixed(eps)
    assert table["syntax/name error"] == {"first_wrong": 2, "fixed": 1}
    assert table["wrong value"] == {"first_wrong": 1, "fixed": 1}
    assert table["timeout"] == {"first_wrong": 0, "fixed": 0}


def test_draw_rates_and_token_curve() -> None:
    ep = episode("reflexion", [False, False, True], tokens=10)
    ep.attempts[2].duplicate_of = 1
    ep.resamples = [Resample(trial=2, duplicate_of=1, usage=Usage(prompt_tokens=4, completion_tokens=1))]
    stuck = episode("reflexion", [False], tokens=10, stop="stuck")
    stuck.resamples = [Resample(trial=2, duplicate_of=1)] * 4
    rates = comparison.draw_rates([ep, stuck])
    assert (rates.retries, rates.duplicates, rates.draws, rates.resamples, rates.stuck) == (2, 1, 9, 5, 1)
    assert rates.duplicate_rate == 0.5 and rates.resample_rate == pytest.approx(5 / 9)
    # trial 1: 10 + 10; trial 2: (10 + 10 + 5) + 10; trial 3: 35 + 10 (the stuck episode stays at 10)
    assert comparison.token_curve([ep, stuck]) == [(10.0, 0.0), (17.5, 0.0), (22.5, 0.5)]
    assert comparison.draw_rates([]).duplicate_rate is None


def test_spread_needs_two_runs() -> None:
    runs = [
        [episode("single", [ok], max_trials=1) for ok in oks]
        for oks in ([1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0])
    ]
    spread = comparison.spread(runs)  # type: ignore[arg-type]
    assert spread is not None and spread.accuracies == [0.5, 0.25, 0.75]
    assert (spread.low, spread.high, spread.mean) == (0.25, 0.75, 0.5)
    assert spread.stdev == pytest.approx((1 / 24) ** 0.5)
    assert comparison.spread(runs[:1]) is None  # type: ignore[arg-type]


# ---- the report --------------------------------------------------------------------------------------------


def test_report_has_the_budget_matched_sections(tmp_path: Path) -> None:
    singles = [
        with_task(episode("single", [ok], max_trials=1, tokens=10, seconds=1.0), f"T/{i}")
        for i, ok in enumerate([False, True])
    ]
    reflexion = [
        with_task(episode("reflexion", [False, True], tokens=10, seconds=3.0), "T/0"),
        with_task(episode("reflexion", [True], tokens=10, seconds=1.0), "T/1"),
    ]
    other_seed = [
        with_task(episode("single", [ok], max_trials=1), f"T/{i}") for i, ok in enumerate([True, True])
    ]
    doc = write_report(
        tmp_path,
        by_strategy([*singles, *reflexion], ["single", "reflexion"]),
        run={"dataset": "unit", "problems": 2},
        single_runs=[other_seed],
    )
    on_disk = json.loads((tmp_path / "report.json").read_text())
    per = on_disk["comparison"]["strategies"]
    assert per["single"]["vs_single"] is None
    assert per["reflexion"]["vs_single"] == {
        "problems": 2,
        "gained": 1,
        "lost": 0,
        "both_right": 1,
        "both_wrong": 0,
        "p_value": 1.0,
    }
    assert (per["reflexion"]["tokens_per_problem"], per["reflexion"]["wall_s_per_problem"]) == (15.0, 2.0)
    assert per["reflexion"]["token_curve"] == [[10.0, 0.5], [15.0, 1.0], [15.0, 1.0]]
    assert on_disk["comparison"]["single_spread"]["accuracies"] == [0.5, 1.0]
    assert doc["comparison"] == on_disk["comparison"]
    md = (tmp_path / "report.md").read_text()
    assert "![accuracy vs cost](accuracy_vs_cost.png)" in md
    assert "| reflexion | 100.0% | 15 | 2.00 |" in md
    assert "| reflexion | 2 | 1 | 0 | 1 | 0 | 1 |" in md
    assert "Noise band: single over 2 runs scored 50.0%, 100.0%" in md
    height, width, _ = matplotlib.image.imread(tmp_path / "accuracy_vs_cost.png").shape
    assert (width, height) == (960, 400)


def test_problems_without_visible_tests_are_reported_apart(tmp_path: Path) -> None:
    eps = [
        with_task(episode("reflexion", [True], source="visible"), "T/0"),
        with_task(episode("reflexion", [False], source="visible"), "T/1"),
        with_task(episode("reflexion", [True], source="self_tests"), "T/2"),
    ]
    assert comparison.by_feedback(eps) == {
        "self_tests": {"problems": 1, "accuracy": 1.0},
        "visible": {"problems": 2, "accuracy": 0.5},
    }
    write_report(tmp_path, by_strategy(eps, ["reflexion"]), run={"dataset": "unit", "problems": 3})
    md = (tmp_path / "report.md").read_text()
    assert "| reflexion | self_tests | 1 | 100.0% |" in md and "| reflexion | visible | 2 | 50.0% |" in md
    write_report(tmp_path, by_strategy(eps[:2], ["reflexion"]), run={"dataset": "unit", "problems": 2})
    assert "By feedback source" not in (tmp_path / "report.md").read_text()  # one source: no split


# ---- replayed first attempts ---------------------------------------------------------------------------


def test_first_attempts_count_replays_and_equal_programs_on_shared_problems() -> None:
    single = [with_task(episode("single", [False], max_trials=1), f"T/{i}") for i in range(3)]
    for i, ep in enumerate(single):
        ep.attempts[0].code = f"def f():\n    return {i}\n"
    runs = [with_task(episode("reflexion", [False, True]), f"T/{i}") for i in range(4)]  # T/3: no single
    runs[0].attempts[0].code, runs[0].attempts[0].replay_of = single[0].attempts[0].code, single[0].id
    runs[1].attempts[0].code = single[1].attempts[0].code  # asked again, same program
    runs[2].attempts[0].code = "def f():\n    return 'other'\n"
    first = comparison.first_attempts(runs, single)
    assert (first.problems, first.replayed, first.equal) == (3, 1, 2)


def test_wall_time_counts_the_generation_time_a_replay_saved() -> None:
    ep = episode("reflexion", [False, True], seconds=10.0)
    ep.attempts[0].latency_ms = 2500.0
    assert metrics.wall_seconds(ep) == 10.0
    ep.attempts[0].replay_of = "single-episode"
    assert metrics.wall_seconds(ep) == 12.5


# ---- equal tokens, where the budget went, the sampled noise band -------------------------------------------


def test_accuracy_at_tokens_reads_the_curve_linearly_and_says_when_past_its_end() -> None:
    curve = [[10.0, 0.5], [30.0, 0.7]]
    assert comparison.accuracy_at_tokens(curve, 20.0) == (pytest.approx(0.6), True)
    assert comparison.accuracy_at_tokens(curve, 5.0) == (pytest.approx(0.25), True)  # from (0, 0)
    assert comparison.accuracy_at_tokens(curve, 30.0) == (pytest.approx(0.7), True)
    assert comparison.accuracy_at_tokens(curve, 45.0) == (0.7, False)
    assert comparison.accuracy_at_tokens([], 5.0) is None


def test_budget_by_flip_puts_each_problems_tokens_under_its_flip() -> None:
    single = [with_task(episode("single", [ok], max_trials=1), f"T/{i}") for i, ok in enumerate([0, 1, 1, 0])]
    finals = [[False, True], [True], [False, False], [False, False]]
    strategy = [
        with_task(episode("reflexion", hiddens, tokens=10 * (i + 1)), f"T/{i}")
        for i, hiddens in enumerate(finals)
    ]
    budget = comparison.budget_by_flip(strategy, single)
    assert budget == {
        "gained": {"problems": 1, "tokens_per_problem": 20.0},
        "lost": {"problems": 1, "tokens_per_problem": 60.0},
        "both_right": {"problems": 1, "tokens_per_problem": 20.0},
        "both_wrong": {"problems": 1, "tokens_per_problem": 80.0},
    }


def test_sample_spread_treats_each_best_of_n_sample_as_one_sampled_single_run() -> None:
    runs = [episode("best_of_n", oks, samples=3) for oks in ([True, False, True], [True, True, False])]
    spread = comparison.sample_spread(runs)
    assert spread is not None and spread.accuracies == [1.0, 0.5, 0.5]
    assert comparison.sample_spread([episode("best_of_n", [True], samples=1)]) is None
    assert comparison.sample_spread([]) is None


def test_report_reads_best_of_n_at_each_strategys_tokens(tmp_path: Path) -> None:
    singles = [
        with_task(episode("single", [ok], max_trials=1, tokens=10), f"T/{i}")
        for i, ok in enumerate([False, True])
    ]
    reflexion = [
        with_task(episode("reflexion", [False, True], tokens=10), "T/0"),
        with_task(episode("reflexion", [True], tokens=10), "T/1"),
    ]
    best = [
        with_task(episode("best_of_n", [False, False], feedback=[False, False], samples=2, tokens=10), "T/0"),
        with_task(episode("best_of_n", [True, False], feedback=[True, False], samples=2, tokens=10), "T/1"),
    ]
    write_report(
        tmp_path,
        by_strategy([*singles, *reflexion, *best], ["single", "reflexion", "best_of_n"]),
        run={"dataset": "unit", "problems": 2},
    )
    comp = json.loads((tmp_path / "report.json").read_text())["comparison"]
    versus = comp["strategies"]["reflexion"]["vs_best_of_n"]
    # best_of_n: 10 tokens/problem for 50 %, then 20 for 50 %; reflexion spent 15 for 100 %
    assert versus["best_of_n_accuracy"] == pytest.approx(0.5) and versus["within_curve"]
    assert versus["difference"] == pytest.approx(0.5)
    assert "vs_best_of_n" not in comp["strategies"]["best_of_n"]
    assert comp["strategies"]["reflexion"]["budget_by_flip"]["gained"] == {
        "problems": 1,
        "tokens_per_problem": 20.0,
    }
    assert comp["sampled_spread"]["run"] == "best_of_n" and comp["sampled_spread"]["accuracies"] == [0.5, 0.0]
    md = (tmp_path / "report.md").read_text()
    assert "| reflexion | 100.0% | 15 | 0.00 | 50.0% |" in md
    assert "| reflexion | 1, 20 | 0, 0 | 1, 10 | 0, 0 |" in md
    assert "Noise band of a sampled single: the 2 samples of best_of_n scored 50.0%, 0.0%" in md
