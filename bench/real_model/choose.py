"""Name the one feedback variant that goes on to the held-out run, by a rule fixed before the data.

    .venv/bin/python bench/real_model/choose.py bench/real_model/tune-0-39/report/report.json

Reads the tuning report (`rfx bench report` over bench/real_model/tune.sh's runs) and writes
chosen.json next to it. The rule, stated here before any held-out problem is run:
1. Candidates are the feedback variants: runs of reflexion or tree_search whose first attempts are
   all single's (first_attempts.equal == problems), so their flips measure the feedback alone.
2. The best is the one with the most net flips against single (gained - lost); ties go to fewer
   lost, then to fewer tokens per problem (the cheaper of two equal results).
3. The report must hold every planned problem (40): a partial tuning report names no variant.
The choice says nothing about whether feedback pays; the held-out run (issue 23) measures that.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FEEDBACK = {"reflexion", "tree_search"}
PLANNED = 40


def choose(report: dict[str, Any]) -> dict[str, Any]:
    run, per = report["run"], report["comparison"]["strategies"]
    if run["problems"] < PLANNED:
        raise SystemExit(f"choose.py: the report covers {run['problems']} of {PLANNED} problems: not yet")
    candidates = []
    for label, settings in run["variants"].items():
        figures = per[label]
        first, flips = figures.get("first_attempts"), figures.get("vs_single")
        if settings["strategy"] not in FEEDBACK or not first or first["equal"] != first["problems"]:
            continue
        net = flips["gained"] - flips["lost"]
        candidates.append(((-net, flips["lost"], figures["tokens_per_problem"]), label, figures))
    if not candidates:
        raise SystemExit("choose.py: no feedback variant started from single's first attempts")
    _, label, figures = min(candidates)
    return {
        "variant": label,
        "settings": run["variants"][label],
        "vs_single": figures["vs_single"],
        "accuracy": figures["accuracy"],
        "baseline_accuracy": per[run["baseline"]]["accuracy"],
        "tokens_per_problem": figures["tokens_per_problem"],
        "rule": "most net flips against single (gained - lost), then fewer lost, then fewer tokens",
        "candidates": [c[1] for c in sorted(candidates)],
    }


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: choose.py REPORT_JSON")
    path = Path(argv[0])
    chosen = choose(json.loads(path.read_text(encoding="utf-8")))
    (path.parent / "chosen.json").write_text(json.dumps(chosen, indent=2) + "\n", encoding="utf-8")
    print(f"chosen: {chosen['variant']} ({chosen['rule']})")


if __name__ == "__main__":
    main(sys.argv[1:])
