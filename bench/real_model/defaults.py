"""Name each bundled model's default strategy and settings from the held-out run, by a rule fixed
before its data (issue 23: the product follows the evidence, or stays with `single`).

    .venv/bin/python bench/real_model/defaults.py    # writes bench/real_model/heldout-40-163/defaults.json

Reads each actor size's held-out report (bench/real_model/heldout.sh) and names, per size whose report
holds every planned run on all 124 problems (plan.py), the run whose settings become that model's
default. The rule, committed before the held-out run had finished any feedback episode:
1. Candidates are the size's held-out runs other than `single`, each as it ran: every one stays
   within the product's default budget (3 trials per episode; best_of_n's 4 samples are under its
   default 5), so none is credited with more tokens than a default episode may spend.
2. A candidate beats `single` beyond the noise when its gain is significant on the same problems:
   exact two-sided McNemar p < 0.05 on gained against lost. Greedy `single` has no seed noise to
   compare with (the tuning ran it on three seeds and two servers for the same 40 programs), so the
   paired test is the noise band.
3. Among those, the highest accuracy wins; ties go to fewer tokens per problem. With none, the
   default is `single`: one attempt, no feedback.
A winner that reflects with another bundled model also gets the same rule's verdict among the runs
that use the actor alone (`alone`): a host without the other model's weights cannot run the winner,
and must not get settings the run did not measure instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from plan import HELDOUT, SIZES, complete, uses_another_model

ALPHA = 0.05
RULE = (
    "the most accurate held-out run whose gain over single is beyond the noise (exact McNemar p < 0.05),"
    " ties to fewer tokens; single when none is"
)


def gains_beyond_noise(flips: dict[str, Any]) -> bool:
    """More gained than lost against single, and more than chance would give (exact McNemar)."""
    return bool(flips["gained"] > flips["lost"] and flips["p_value"] < ALPHA)


def decide(report: dict[str, Any], size: str, *, alone: bool = False) -> dict[str, Any] | None:
    """One size's default from its report; None while the report lacks a planned run or problem.
    `alone`: among the runs whose reflector is the actor itself."""
    run, per = report["run"], report["comparison"]["strategies"]
    if not complete(report, size):
        return None
    baseline = run["baseline"]
    beyond = [
        (-figures["accuracy"], figures["tokens_per_problem"], label)
        for label, figures in per.items()
        if label != baseline
        and gains_beyond_noise(figures["vs_single"])
        and not (alone and uses_another_model(run["variants"][label]))
    ]
    label = min(beyond)[2] if beyond else baseline
    figures = per[label]
    verdict = {
        "run": label,
        "settings": run["variants"][label],
        "accuracy": figures["accuracy"],
        "single_accuracy": per[baseline]["accuracy"],
        "vs_single": figures["vs_single"],
        "tokens_per_problem": figures["tokens_per_problem"],
        "rule": RULE,
        "beyond_the_noise": sorted(label for *_, label in beyond),
    }
    if uses_another_model(run["variants"][label]):
        verdict["alone"] = decide(report, size, alone=True)
    return verdict


def main(argv: list[str]) -> int:
    if argv:
        raise SystemExit("usage: defaults.py (reads and writes under bench/real_model/heldout-40-163/)")
    decided = {}
    for size in SIZES:
        path = HELDOUT / size / "report" / "report.json"
        verdict = decide(json.loads(path.read_text(encoding="utf-8")), size) if path.exists() else None
        if verdict is not None:
            decided[size] = verdict
            print(f"{size}: default {verdict['run']} ({RULE})")
        else:
            print(f"{size}: not decided: the held-out report lacks some of the planned runs or problems")
    if decided:
        (HELDOUT / "defaults.json").write_text(json.dumps(decided, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
