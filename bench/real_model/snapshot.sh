#!/usr/bin/env bash
# Commit the held-out run as far as it has got (issue 23: raw attempts and reports committed as they
# complete): each size's report from the problems its runs finished, the bundled models' defaults
# once a size is complete (defaults.py), the docs generated from those (bench/report_docs.py), and
# the raw episodes, in one commit. Safe while the run goes on:
# the reports read what is on disk, and the docs read only the reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=bench/real_model/heldout-40-163
for size in 0.5b 1.5b; do
  if compgen -G "$OUT/$size/*/episodes.jsonl" >/dev/null; then
    bench/real_model/heldout.sh "$size" report >/dev/null
  fi
done
.venv/bin/python bench/real_model/defaults.py >/dev/null
.venv/bin/python bench/report_docs.py
git add "$OUT" README.md docs/performance.md
summary=$(python3 - "$OUT" <<'PY'
import json, pathlib, sys
parts = []
for report in sorted(pathlib.Path(sys.argv[1]).glob("*/report/report.json")):
    run = json.loads(report.read_text())["run"]
    done = ", ".join(f"{n} {run['problems'] + run['dropped_episodes'].get(n, 0)}" for n in run["runs"])
    parts.append(f"{report.parent.parent.name}: {done}")
print("; ".join(parts) or "nothing finished yet")
PY
)
git commit -q -m "Held-out run progress (problems finished of 124): $summary" -- "$OUT" README.md docs/performance.md
git log --oneline -1
