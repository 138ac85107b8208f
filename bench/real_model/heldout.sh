#!/usr/bin/env bash
# Issue 23: the held-out measurement, HumanEval/40-163, with the strategies frozen beforehand: the
# variant bench/real_model/choose.py named on HumanEval/0-39 (tune-0-39/report/chosen.json).
#
#     bench/real_model/heldout.sh 0.5b                 # every step of one actor size, then its report
#     PORT=8092 bench/real_model/heldout.sh 1.5b single # chosen steps, on another server (a lane)
#     bench/real_model/heldout.sh 0.5b report          # the report alone, from what has finished
#
# Steps per size (bench/real_model/plan.py): single, best-of-4 (4 samples filtered by the visible
# tests) and the chosen variant, and for 0.5b also reflexion-today. Every step resumes (rfx bench --out), so the run spreads over
# sessions; it refuses to start on a checkout whose behaviour files (app/ but for its reporting
# modules, prompts/, sandbox/, the lock) differ from the commit (app/benchmark/provenance.py); each
# run's provenance.jsonl and the report name the behaviour digest and the commits it ran.
set -euo pipefail
cd "$(dirname "$0")/../.."
RFX=.venv/bin/rfx
SIZE=${1:?usage: heldout.sh 0.5b|1.5b [STEP...|report]}
shift
SIZES=$(python3 bench/real_model/plan.py sizes)
case " $SIZES " in *" $SIZE "*) ;; *) echo "heldout.sh: a size of: $SIZES; not $SIZE" >&2; exit 2 ;; esac
OUT=$(python3 bench/real_model/plan.py dir)/$SIZE
[ -s bench/real_model/tune-0-39/report/chosen.json ] || { echo "heldout.sh: no chosen variant: run bench/real_model/tune.sh first" >&2; exit 2; }
IDS=$(python3 bench/real_model/plan.py ids)
read -r -a STEPS <<<"$(python3 bench/real_model/plan.py steps "$SIZE")"
# shellcheck source=bench/real_model/variants.sh
. bench/real_model/variants.sh

# Wall-clock limits are lifted for every step alike: two lanes and up to three llama.cpp servers share
# two cores, so a 120 s reply limit or a 600 s episode limit would measure the contention, not the
# strategy (on 0-39 the 1.5B reflector's queued replies timed out three episodes into llm_error, and
# five tree-search and explore episodes hit the episode limit). Budgets stay trials and tokens.
export RFX_LLM_TIMEOUT_S=900
LIMITS="--timeout 7200"

step() {
  case $1 in
    single) echo --strategy single $LIMITS ;;
    best-of-4) echo --strategy best_of_n --samples 4 $LIMITS ;;
    *) echo "$(variant "$1" "$OUT/single") $LIMITS" ;;
  esac
}

# The report compares the runs that finished every problem, once one has (plan.py report_runs).
report() {
  local specs=() name
  for name in $(python3 bench/real_model/plan.py report-runs "$SIZE"); do
    specs+=("$name=$OUT/$name")
  done
  "$RFX" bench report "${specs[@]}" --out "$OUT/report"
}

if ! reason=$(.venv/bin/python -m app.benchmark.provenance); then
  echo "heldout.sh: $reason: a frozen run needs them committed" >&2
  exit 2
fi
[ $# -gt 0 ] || set -- "${STEPS[@]}" report
run_steps "$SIZE" "$OUT" "$IDS" "$@"
