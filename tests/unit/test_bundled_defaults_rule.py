"""bench/real_model/defaults.py applies its stated rule to the held-out reports: the most accurate run
beyond the noise, else single; and it decides nothing from a partial report, whether it lacks problems
or a planned run (bench/real_model/plan.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "real_model"))

import defaults
import plan


def report(
    runs: dict[str, tuple[float, int, int, float, float]],
    problems: int = 124,
    missing: str | None = None,
    reflecting_with_1_5b: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """runs: label -> (accuracy, gained, lost, McNemar p, tokens per problem); `single` is the baseline;
    every run the plan names for 0.5b is in it too, but `missing`. The 0.5B actor reflects alone but
    in the runs `reflecting_with_1_5b`."""
    per: dict[str, Any] = {"single": {"accuracy": 0.6, "tokens_per_problem": 400.0, "vs_single": None}}
    for label, (accuracy, gained, lost, p, tokens) in runs.items():
        per[label] = {
            "accuracy": accuracy,
            "tokens_per_problem": tokens,
            "vs_single": {"gained": gained, "lost": lost, "p_value": p},
        }
    return {
        "run": {
            "runs": {label: [] for label in {*plan.steps("0.5b"), *per} if label != missing},
            "problems": problems,
            "baseline": "single",
            "variants": {
                label: {
                    "strategy": label,
                    "actor_model": "local-0.5b",
                    "reflector_model": "local-1.5b" if label in reflecting_with_1_5b else "local-0.5b",
                }
                for label in per
            },
        },
        "comparison": {"strategies": per},
    }


def test_the_most_accurate_run_beyond_the_noise_wins() -> None:
    decided = defaults.decide(
        report(
            {
                "chosen": (0.70, 14, 2, 0.004, 900.0),
                "best-of-4": (0.72, 20, 5, 0.003, 1500.0),  # the most accurate beyond the noise
                "lucky": (0.75, 12, 3, 0.035, 2000.0),  # even more accurate, and beyond the noise too
                "noisy": (0.80, 30, 20, 0.2, 300.0),  # the most accurate of all, but within the noise
            }
        ),
        "0.5b",
    )
    assert decided is not None
    assert decided["run"] == "lucky" and decided["beyond_the_noise"] == ["best-of-4", "chosen", "lucky"]
    assert decided["settings"]["strategy"] == "lucky" and decided["single_accuracy"] == 0.6
    assert "alone" not in decided  # the winner needs no other model


def test_a_winner_reflecting_with_another_model_names_the_verdict_without_it() -> None:
    """A host without the 1.5B's weights cannot run a winner that reflects with it: defaults.json
    also names the rule's verdict among the runs of the actor alone."""
    runs = {
        "chosen": (0.75, 20, 2, 0.0001, 900.0),  # the winner, reflecting with the 1.5B
        "best-of-4": (0.70, 15, 3, 0.007, 1500.0),  # the best of the actor alone
        "reflexion-today": (0.62, 4, 2, 0.69, 1300.0),
    }
    decided = defaults.decide(report(runs, reflecting_with_1_5b=frozenset({"chosen"})), "0.5b")
    assert decided is not None and decided["run"] == "chosen"
    assert decided["alone"]["run"] == "best-of-4" and "alone" not in decided["alone"]
    assert decided["alone"]["beyond_the_noise"] == ["best-of-4"]
    del runs["best-of-4"]
    runs["best-of-4"] = (0.65, 6, 3, 0.5, 1500.0)  # now within the noise: alone, single stays
    decided = defaults.decide(report(runs, reflecting_with_1_5b=frozenset({"chosen"})), "0.5b")
    assert decided is not None and decided["alone"]["run"] == "single"


def test_ties_go_to_fewer_tokens() -> None:
    decided = defaults.decide(
        report({"dear": (0.7, 13, 0, 0.001, 1500.0), "cheap": (0.7, 13, 0, 0.001, 900.0)}), "0.5b"
    )
    assert decided is not None and decided["run"] == "cheap"


def test_single_stays_when_nothing_beats_it_beyond_the_noise() -> None:
    decided = defaults.decide(
        report({"chosen": (0.64, 5, 0, 0.0625, 900.0), "worse": (0.5, 1, 14, 0.001, 800.0)}), "0.5b"
    )
    assert decided is not None and decided["run"] == "single" and decided["beyond_the_noise"] == []


@pytest.mark.parametrize(
    ("problems", "missing"),
    [
        (123, None),  # a run has not finished every problem
        (124, "best-of-4"),  # a report made before the last planned run started
        (124, "reflexion-today"),  # the 0.5B's fourth run
    ],
)
def test_a_partial_report_decides_nothing(problems: int, missing: str | None) -> None:
    partial = report({"chosen": (0.9, 40, 0, 1e-12, 900.0)}, problems=problems, missing=missing)
    assert defaults.decide(partial, "0.5b") is None


def test_the_1_5b_needs_no_reflexion_today() -> None:
    whole = report({"chosen": (0.9, 40, 0, 1e-12, 900.0)}, missing="reflexion-today")
    decided = defaults.decide(whole, "1.5b")
    assert decided is not None and decided["run"] == "chosen"


def test_a_report_compares_the_runs_that_finished_every_problem(tmp_path: Path) -> None:
    """A run that has just started joins the report once complete, so the tables are not shrunk to
    its first problems meanwhile; progress still counts it."""

    def finish(run: str, problems: int) -> None:
        (tmp_path / "0.5b" / run).mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"task": {"id": task}}) for task in plan.PROBLEM_IDS[:problems]]
        (tmp_path / "0.5b" / run / "episodes.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert plan.report_runs("0.5b", tmp_path) == []
    finish("single", 3)
    assert plan.report_runs("0.5b", tmp_path) == ["single"]  # none complete yet: every started run
    finish("single", 124)
    finish("best-of-4", 2)
    assert plan.report_runs("0.5b", tmp_path) == ["single"]
    assert plan.progress("0.5b", tmp_path) == {
        name: {"single": 124, "best-of-4": 2}.get(name, 0) for name in plan.steps("0.5b")
    }
    finish("best-of-4", 124)
    assert plan.report_runs("0.5b", tmp_path) == ["single", "best-of-4"]
    plan.record_progress(tmp_path)  # what the docs say: the counts at the snapshot, not later appends
    finish("reflexion-today", 5)
    recorded = json.loads((tmp_path / plan.PROGRESS_FILE).read_text(encoding="utf-8"))
    assert recorded["0.5b"]["best-of-4"] == 124 and recorded["0.5b"]["reflexion-today"] == 0
    assert set(recorded) == set(plan.SIZES)
