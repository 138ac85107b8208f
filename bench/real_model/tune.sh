#!/usr/bin/env bash
# Issue 22 item 6: tune on HumanEval/0-39 with the bundled 0.5B actor, every variant in its own run
# directory, each feedback variant replaying single's first attempts (seed 0), then one report.
#
#     bench/real_model/tune.sh            # runs what is missing, resumes what was cut short
#
# Each step is an `rfx bench humaneval --out DIR` run, so rerunning the script resumes where it
# stopped; the report is rebuilt from whatever has finished. Takes hours on two cores: run it in the
# background. Steps go in the order the comparison needs them most.
set -euo pipefail
cd "$(dirname "$0")/../.."
RFX=.venv/bin/rfx
OUT=bench/real_model/tune-0-39
IDS=$(python3 -c 'print(",".join(f"HumanEval/{i}" for i in range(40)))')
COMMON=(--ids "$IDS" --model local-0.5b --concurrency 2 --max-trials 3 --sampling-seed 0)
SAMPLED=(--retries sampled --feedback-level trace --retry-context fresh)

run() { local dir=$1; shift; echo "== $dir" >&2; "$RFX" bench humaneval "${COMMON[@]}" --out "$OUT/$dir" "$@"; }

run single-s0 --strategy single
run reflexion-today --strategy reflexion --retries greedy --replay-from "$OUT/single-s0"
run reflexion-explore --strategy reflexion "${SAMPLED[@]}" --replay-from "$OUT/single-s0"
run reflexion-1.5b-reflector --strategy reflexion "${SAMPLED[@]}" --reflector-model local-1.5b \
  --replay-from "$OUT/single-s0"
run tree-search --strategy tree_search "${SAMPLED[@]}" --max-trials 5 --branching 2 \
  --replay-from "$OUT/single-s0"
run best-of-4 --strategy best_of_n --samples 4
run single-s1 --strategy single --sampling-seed 1
run single-s2 --strategy single --sampling-seed 2

specs=()
for dir in single-s0 reflexion-today reflexion-explore reflexion-1.5b-reflector tree-search best-of-4 \
  single-s1 single-s2; do
  [ -s "$OUT/$dir/episodes.jsonl" ] && specs+=("$dir=$OUT/$dir")
done
"$RFX" bench report "${specs[@]}" --out "$OUT/report"
