"""bench/real_model/defaults.py applies its stated rule to the held-out reports: the most accurate run
beyond the noise, else single; and it decides nothing from a partial report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "real_model"))

import defaults


def report(runs: dict[str, tuple[float, int, int, float, float]], problems: int = 124) -> dict[str, Any]:
    """runs: label -> (accuracy, gained, lost, McNemar p, tokens per problem); `single` is the baseline."""
    per: dict[str, Any] = {"single": {"accuracy": 0.6, "tokens_per_problem": 400.0, "vs_single": None}}
    for label, (accuracy, gained, lost, p, tokens) in runs.items():
        per[label] = {
            "accuracy": accuracy,
            "tokens_per_problem": tokens,
            "vs_single": {"gained": gained, "lost": lost, "p_value": p},
        }
    return {
        "run": {
            "problems": problems,
            "baseline": "single",
            "variants": {label: {"strategy": label} for label in per},
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
        )
    )
    assert decided is not None
    assert decided["run"] == "lucky" and decided["beyond_the_noise"] == ["best-of-4", "chosen", "lucky"]
    assert decided["settings"] == {"strategy": "lucky"} and decided["single_accuracy"] == 0.6


def test_ties_go_to_fewer_tokens() -> None:
    decided = defaults.decide(
        report({"dear": (0.7, 13, 0, 0.001, 1500.0), "cheap": (0.7, 13, 0, 0.001, 900.0)})
    )
    assert decided is not None and decided["run"] == "cheap"


def test_single_stays_when_nothing_beats_it_beyond_the_noise() -> None:
    decided = defaults.decide(
        report({"chosen": (0.64, 5, 0, 0.0625, 900.0), "worse": (0.5, 1, 14, 0.001, 800.0)})
    )
    assert decided is not None and decided["run"] == "single" and decided["beyond_the_noise"] == []


def test_a_partial_report_decides_nothing() -> None:
    assert defaults.decide(report({"chosen": (0.9, 40, 0, 1e-12, 900.0)}, problems=123)) is None
