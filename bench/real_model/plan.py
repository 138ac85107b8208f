"""The held-out run's plan (issue 23), stated once: which problems, and which runs per actor size.

    python3 bench/real_model/plan.py ids         # HumanEval/40,...,HumanEval/163 (heldout.sh --ids)
    python3 bench/real_model/plan.py dir         # bench/real_model/heldout-40-163 (the scripts' OUT)
    python3 bench/real_model/plan.py sizes       # 0.5b 1.5b (snapshot.sh)
    python3 bench/real_model/plan.py report-runs 0.5b  # the runs its report compares (heldout.sh)
    python3 bench/real_model/plan.py record-progress   # heldout-40-163/progress.json (snapshot.sh)
    python3 bench/real_model/plan.py steps 0.5b  # the runs of one size, in the order heldout.sh runs them

heldout.sh runs these steps; defaults.py decides a size only once its report holds every one of them
on every problem, since a report is made from whatever runs have started: one made between two steps
holds all problems of fewer runs, and a default or a goal judged from it would miss a candidate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REAL_MODEL = Path(__file__).resolve().parent
HELDOUT = REAL_MODEL / "heldout-40-163"
HELDOUT_IN_REPO = HELDOUT.relative_to(REAL_MODEL.parents[1]).as_posix()  # as the docs and scripts name it
PROGRESS_FILE = "progress.json"  # under HELDOUT: record_progress()'s, which the docs read
CHOSEN_FILE = REAL_MODEL / "tune-0-39" / "report" / "chosen.json"
PROBLEM_IDS = tuple(f"HumanEval/{i}" for i in range(40, 164))
SIZES = ("0.5b", "1.5b")


def chosen() -> str:
    """The variant bench/real_model/choose.py named on HumanEval/0-39."""
    return str(json.loads(CHOSEN_FILE.read_text(encoding="utf-8"))["variant"])


def steps(size: str) -> list[str]:
    """single first (the others replay its first attempts), then best_of_n, then the chosen variant;
    the 0.5B also runs reflexion as it was before the tuning."""
    planned = ["single", "best-of-4", chosen()]
    if size == "0.5b" and "reflexion-today" not in planned:
        planned.append("reflexion-today")
    return planned


def uses_another_model(settings: dict[str, Any]) -> bool:
    """A run whose reflector is not its actor: a host without that model's weights cannot run it, so
    defaults.py also decides among the other runs (`alone`) and the docs name them so."""
    return bool(settings["reflector_model"] != settings["actor_model"])


def finished(run_dir: Path) -> set[str]:
    """The problems a run has finished: the tasks of its episodes file (one line per episode)."""
    path = run_dir / "episodes.jsonl"
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["task"]["id"] for line in lines if line.strip()}


def report_runs(size: str, heldout: Path = HELDOUT) -> list[str]:
    """The runs a size's report compares: those that finished every problem, once one has. A report
    compares its runs on the problems all of them finished, so a run that has just started would
    shrink the tables to its first few problems for hours; it joins once complete, and progress()
    counts it meanwhile."""
    started = {name: finished(heldout / size / name) for name in steps(size)}
    started = {name: done for name, done in started.items() if done}
    whole = [name for name, done in started.items() if done >= set(PROBLEM_IDS)]
    return whole or list(started)


def progress(size: str, heldout: Path = HELDOUT) -> dict[str, int]:
    """Problems each planned run of `size` has finished so far."""
    return {name: len(finished(heldout / size / name)) for name in steps(size)}


def record_progress(heldout: Path = HELDOUT) -> None:
    """Write every size's progress() where the docs read it: the docs generated in a snapshot must
    match what it commits, and the lanes go on appending episodes between the two."""
    counts = {size: progress(size, heldout) for size in SIZES}
    (heldout / PROGRESS_FILE).write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")


def complete(report: dict[str, Any], size: str) -> bool:
    """Every planned run of `size` is in the report, on every planned problem."""
    run = report["run"]
    return set(steps(size)) <= set(run["runs"]) and run["problems"] == len(PROBLEM_IDS)


def main(argv: list[str]) -> int:
    if argv == ["ids"]:
        print(",".join(PROBLEM_IDS))
    elif argv == ["dir"]:
        print(HELDOUT_IN_REPO)
    elif argv == ["sizes"]:
        print(" ".join(SIZES))
    elif argv == ["record-progress"]:
        record_progress()
    elif len(argv) == 2 and argv[0] == "report-runs" and argv[1] in SIZES:
        print(" ".join(report_runs(argv[1])))
    elif len(argv) == 2 and argv[0] == "steps" and argv[1] in SIZES:
        print(" ".join(steps(argv[1])))
    else:
        usage = f"plan.py ids|dir|sizes|record-progress | plan.py report-runs|steps {'|'.join(SIZES)}"
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
