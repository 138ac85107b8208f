"""The held-out run's goal is judged from its report by bench/heldout_docs.py, never by hand: each of
its three conditions can fail it on its own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import heldout_docs


def report(accuracy: float, lost: int, versus_best_of_n: float | None) -> dict[str, Any]:
    chosen: dict[str, Any] = {
        "accuracy": accuracy,
        "vs_single": {"gained": 9, "lost": lost, "p_value": 0.01},
    }
    if versus_best_of_n is not None:
        chosen["vs_best_of_n"] = {"difference": versus_best_of_n, "within_curve": True}
    return {
        "run": {"baseline": "single", "problems": 124},
        "comparison": {"strategies": {"single": {"accuracy": 0.60, "vs_single": None}, "chosen": chosen}},
    }


@pytest.mark.parametrize(
    ("accuracy", "lost", "versus", "met"),
    [
        (0.65, 1, 0.0, True),  # exactly 5 points, 1 lost, even with best_of_n
        (0.64, 0, 0.1, False),  # 4 points
        (0.70, 2, 0.1, False),  # two right answers broken
        (0.70, 0, -0.01, False),  # best_of_n did better with the same tokens
        (0.70, 0, None, False),  # best_of_n not run: the goal cannot be met yet
    ],
)
def test_the_goal_needs_all_three_conditions(
    accuracy: float, lost: int, versus: float | None, met: bool
) -> None:
    judged = heldout_docs.goal(report(accuracy, lost, versus), "chosen", complete=True)
    assert judged is not None and judged["met"] is met
    assert judged["points"] == pytest.approx(100 * (accuracy - 0.60))
    assert ("**met**" if met else "**not met**") in heldout_docs.goal_text(judged)


def test_no_goal_before_the_chosen_variant_has_figures() -> None:
    assert heldout_docs.goal(report(0.7, 0, 0.0), "another", complete=True) is None
    assert heldout_docs.goal(report(0.7, 0, 0.0), None, complete=True) is None
    assert "not judged yet" in heldout_docs.goal_text(None)


def test_the_bundled_default_is_named_once_defaults_py_has_decided() -> None:
    undecided = heldout_docs.Heldout(reports={"0.5b": None}, tuning={}, chosen="chosen", defaults={})
    assert "decided once all 124 problems are in" in heldout_docs.default_line(undecided, "0.5b")
    assert heldout_docs.default_verdict(undecided, "0.5b") is None
    figures = report(0.65, 1, 0.0)
    figures["comparison"]["strategies"]["single"]["tokens_per_problem"] = 500.0
    figures["comparison"]["strategies"]["chosen"]["tokens_per_problem"] = 2000.0

    def decided(run: str) -> heldout_docs.Heldout:
        verdicts = {"0.5b": {"run": run, "rule": "the rule"}}
        return heldout_docs.Heldout(reports={"0.5b": figures}, tuning={}, chosen="chosen", defaults=verdicts)

    negative = heldout_docs.default_line(decided("single"), "0.5b")
    assert negative == (
        "- the bundled model's default: `single` stays the default (60.0 %): no strategy beat one attempt"
        " beyond the noise; the most accurate, `chosen`, 65.0 % (+9/\u20131, p 0.01) (the rule: the rule)"
    )
    positive = heldout_docs.default_verdict(decided("chosen"), "0.5b")
    assert positive == (
        "`chosen` is the default: 65.0 % against `single`'s 60.0 % (+9/\u20131, p 0.01), 2,000 against 500"
        " tokens per problem"
    )
    figures["comparison"]["strategies"]["alone"] = {
        "accuracy": 0.62,
        "vs_single": {"gained": 4, "lost": 2, "p_value": 0.69},
    }
    figures["run"]["variants"] = {
        "chosen": {"actor_model": "local-0.5b", "reflector_model": "local-1.5b"},
        "alone": {"actor_model": "local-0.5b", "reflector_model": "local-0.5b"},
        "single": {"actor_model": "local-0.5b", "reflector_model": "local-0.5b"},
    }
    reflecting_with_another = decided("chosen")
    reflecting_with_another.defaults["0.5b"]["alone"] = {"run": "single"}
    positive = heldout_docs.default_verdict(reflecting_with_another, "0.5b")
    assert positive is not None and positive.endswith(
        " tokens per problem; on a host without local-1.5b's weights, `single` stays the default (60.0 %):"
        " no strategy beat one attempt beyond the noise; the most accurate, `alone`, 62.0 % (+4/\u20132,"
        " p 0.69)"
    )


def test_a_partial_run_is_not_judged() -> None:
    """Partial: defaults.py has not decided the size (a planned run or problem is missing), even when
    the runs so far share all 124 problems."""
    judged = heldout_docs.goal(report(0.70, 0, 0.1), "chosen", complete=False)
    assert judged is not None and not judged["complete"]
    text = heldout_docs.goal_text(judged)
    assert text.startswith("not judged until all are in; so far: +10.0 points") and "met" not in text


def test_a_partial_run_with_too_many_lost_is_already_out_of_reach() -> None:
    """Lost answers never come back as more problems finish: two of them fail the goal early."""
    judged = heldout_docs.goal(report(0.70, 2, 0.1), "chosen", complete=False)
    text = heldout_docs.goal_text(judged)
    assert text.startswith("**out of reach** already (more than 1 lost), before all are in; so far: +10.0")


def test_where_the_budget_went_is_read_from_each_runs_flips() -> None:
    figures = report(0.65, 1, 0.0)
    assert heldout_docs.budget_line(figures) == "- where the budget went: no run beside single yet"
    figures["comparison"]["strategies"]["chosen"]["budget_by_flip"] = {
        "gained": {"problems": 9, "tokens_per_problem": 3305.0},
        "lost": {"problems": 1, "tokens_per_problem": 6741.5},
    }
    assert heldout_docs.budget_line(figures).endswith(": `chosen` gained 9 at 3,305, lost 1 at 6,742")


def test_the_report_names_the_digest_and_the_commit_the_run_was_frozen_at() -> None:
    def ran(commit: str, started: str) -> dict[str, Any]:
        return {"commit": commit, "behaviour": "d" * 64, "started_at": started}

    figures = report(0.65, 1, 0.0)
    figures["run"]["code"] = {
        "chosen": [ran("b" * 40, "2026-12-05T04:00:00+00:00")],
        "single": [ran("a" * 40, "2026-12-05T01:45:14+00:00"), ran("c" * 40, "2026-12-05T05:00:00+00:00")],
    }
    assert heldout_docs.digest_line(figures).endswith(
        f"`{'d' * 12}`; frozen at commit `{'a' * 12}`, where the first run started"
    )
