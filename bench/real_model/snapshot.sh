#!/usr/bin/env bash
# Commit the held-out run as far as it has got (issue 23: raw attempts and reports committed as they
# complete): each size's report from the problems its runs finished, the bundled models' defaults
# once a size is complete (defaults.py), the docs generated from those (bench/report_docs.py), and
# the raw episodes, in one commit. Safe while the run goes on:
# the reports read what is on disk, and the docs read only the reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(python3 bench/real_model/plan.py dir)
for size in $(python3 bench/real_model/plan.py sizes); do
  if compgen -G "$OUT/$size/*/episodes.jsonl" >/dev/null; then
    bench/real_model/heldout.sh "$size" report >/dev/null
  fi
done
.venv/bin/python bench/real_model/defaults.py >/dev/null
python3 bench/real_model/plan.py record-progress
.venv/bin/python bench/report_docs.py
git add "$OUT" README.md docs/performance.md
if git diff --cached --quiet -- "$OUT" README.md docs/performance.md; then
  echo "snapshot.sh: nothing new since the last snapshot"
  exit 0
fi
summary=$(python3 bench/heldout_docs.py progress)
git commit -q -m "Held-out run progress ($summary)" -- "$OUT" README.md docs/performance.md
git log --oneline -1
