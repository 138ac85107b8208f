"""bench/real_model/choose.py applies its stated rule, and names nothing from a partial report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "real_model"))

import choose


def report(problems: int = 40) -> dict[str, Any]:
    def figures(gained: int, lost: int, tokens: float, equal: int = 40) -> dict[str, Any]:
        return {
            "accuracy": 0.5 + (gained - lost) / 40,
            "tokens_per_problem": tokens,
            "vs_single": {"gained": gained, "lost": lost},
            "first_attempts": {"problems": 40, "replayed": equal, "equal": equal},
        }

    variants = {
        "single-s0": ("single", None),
        "greedy": ("reflexion", figures(3, 1, 900.0)),
        "explore": ("reflexion", figures(3, 0, 1200.0)),  # net 3 with no loss beats net 2
        "cheaper-tie": ("reflexion", figures(4, 1, 800.0)),  # net 3 but one loss
        "unequal-start": ("reflexion", figures(9, 0, 500.0, equal=39)),  # not single's first attempts
        "best-of-4": ("best_of_n", figures(8, 0, 2000.0)),  # not a feedback variant
    }
    per = {label: f or {"accuracy": 0.5} for label, (_, f) in variants.items()}
    return {
        "run": {
            "problems": problems,
            "baseline": "single-s0",
            "variants": {label: {"strategy": s} for label, (s, _) in variants.items()},
        },
        "comparison": {"strategies": per},
    }


def test_the_rule_picks_most_net_flips_then_fewer_losses_then_fewer_tokens() -> None:
    chosen = choose.choose(report())
    assert chosen["variant"] == "explore"
    assert chosen["candidates"] == ["explore", "cheaper-tie", "greedy"]
    assert chosen["baseline_accuracy"] == 0.5


def test_a_partial_report_names_no_variant() -> None:
    with pytest.raises(SystemExit, match="25 of 40"):
        choose.choose(report(problems=25))
