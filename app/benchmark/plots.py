"""PNG plots for report.md: accuracy versus trial per strategy (the curve Reflexion plots) and flips.

matplotlib with the Agg backend: no display needed, files render on GitHub and in any browser.
The plots read only the figures already in report.json, so picture and numbers cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # the backend is chosen first
from matplotlib.ticker import MaxNLocator

FLIP_KEYS = ("wrong_to_right", "right_to_wrong", "right_to_right", "wrong_to_wrong")
ACCURACY_PNG = "accuracy_by_trial.png"
FLIPS_PNG = "flips.png"
BUDGET_PNG = "accuracy_vs_cost.png"


def accuracy_plot(strategies: dict[str, dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for name, figures in strategies.items():
        curve = figures["accuracy_by_trial"]
        if curve:
            ax.plot(range(1, len(curve) + 1), curve, marker="o", label=name)
    ax.set_xlabel("trial (samples for best_of_n)")
    ax.set_ylabel("accuracy (hidden tests)")
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Accuracy after each trial")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def flips_plot(strategies: dict[str, dict[str, Any]], path: Path) -> None:
    names = list(strategies)
    width = 0.8 / len(FLIP_KEYS)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for i, key in enumerate(FLIP_KEYS):
        values = [strategies[n]["flips"][key] for n in names]
        positions = [x + (i - 1.5) * width for x in range(len(names))]
        ax.bar(positions, values, width=width, label=key.replace("_to_", " → "))
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("problems")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize="small", ncol=len(FLIP_KEYS), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    ax.set_title("First answer → final answer (hidden tests)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_plots(strategies: dict[str, dict[str, Any]], directory: Path) -> list[str]:
    """Write both plots into `directory`; return their file names (relative links for report.md)."""
    accuracy_plot(strategies, directory / ACCURACY_PNG)
    flips_plot(strategies, directory / FLIPS_PNG)
    return [ACCURACY_PNG, FLIPS_PNG]


def write_budget_plot(comparison: dict[str, dict[str, Any]], directory: Path) -> str:
    """Accuracy against tokens per problem (a curve over trials) and against wall time per problem,
    so strategies are compared at equal budget rather than at equal trial count."""
    fig, (by_tokens, by_time) = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=100, sharey=True)
    for name, figures in comparison.items():
        curve = figures["token_curve"]
        if curve:
            by_tokens.plot([x for x, _ in curve], [y for _, y in curve], marker="o", label=name)
        by_time.scatter([figures["wall_s_per_problem"]], [figures["accuracy"]], label=name)
        by_time.annotate(name, (figures["wall_s_per_problem"], figures["accuracy"]), fontsize="small")
    by_tokens.set_xlabel("tokens per problem (actor + reflector)")
    by_tokens.set_ylabel("accuracy (hidden tests)")
    by_time.set_xlabel("wall seconds per problem")
    for ax in (by_tokens, by_time):
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    by_tokens.legend(fontsize="small")
    fig.suptitle("Accuracy against what it cost")
    fig.tight_layout()
    fig.savefig(directory / BUDGET_PNG)
    plt.close(fig)
    return BUDGET_PNG
