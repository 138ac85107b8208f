#!/usr/bin/env bash
# Issue 22 item 6: tune on HumanEval/0-39 with the bundled 0.5B actor, every variant in its own run
# directory, each feedback variant replaying single's first attempts (single-s0), then one report.
#
#     bench/real_model/tune.sh                      # every step in order, then the report
#     PORT=8091 bench/real_model/tune.sh best-of-4-hi  # chosen steps, on a second 0.5B server (a lane)
#     bench/real_model/tune.sh report               # the report alone, from what has finished
#
# Each step is an `rfx bench humaneval --out DIR` run, so rerunning resumes where it stopped. Takes
# hours on two cores: run it in the background. Two lanes on two servers (PORT) use both cores,
# since one llama.cpp server answers one request at a time on one thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
RFX=.venv/bin/rfx
OUT=bench/real_model/tune-0-39
IDS=$(python3 -c 'print(",".join(f"HumanEval/{i}" for i in range(40)))')
STEPS=(single-s0 reflexion-today reflexion-explore reflexion-1.5b-reflector tree-search best-of-4-lo
  best-of-4-hi single-s1 single-s2)
half() { python3 -c "print(','.join(f'HumanEval/{i}' for i in range($1, $2)))"; }
# shellcheck source=bench/real_model/variants.sh
. bench/real_model/variants.sh

step() {
  case $1 in
    single-s0) echo --strategy single ;;
    reflexion-*|tree-search) variant "$1" "$OUT/single-s0" ;;
    best-of-4-lo) echo --strategy best_of_n --samples 4 --ids "$(half 0 20)" ;;  # halves: two lanes
    best-of-4-hi) echo --strategy best_of_n --samples 4 --ids "$(half 20 40)" ;;
    single-s1) echo --strategy single --sampling-seed 1 ;;
    single-s2) echo --strategy single --sampling-seed 2 ;;
    *) echo "tune.sh: unknown step $1 (steps: ${STEPS[*]} report)" >&2; return 2 ;;
  esac
}

report() {
  # a run joins the report only once complete: part of one would cut every run to its problems
  complete() { [ -s "$OUT/$1/report.json" ] && grep -q '"complete": true' "$OUT/$1/report.json"; }
  local specs=() dir
  for dir in single-s0 reflexion-today reflexion-explore reflexion-1.5b-reflector tree-search single-s1 \
    single-s2; do
    complete "$dir" && specs+=("$dir=$OUT/$dir")
  done
  complete best-of-4-lo && complete best-of-4-hi && specs+=("best-of-4=$OUT/best-of-4-lo,$OUT/best-of-4-hi")
  "$RFX" bench report "${specs[@]}" --out "$OUT/report"
  .venv/bin/python bench/real_model/choose.py "$OUT/report/report.json" || true  # names none until complete
}

[ $# -gt 0 ] || set -- "${STEPS[@]}" report
run_steps 0.5b "$OUT" "$IDS" "$@"
