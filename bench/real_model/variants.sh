# shellcheck shell=bash
# The feedback variants tuned on HumanEval/0-39 (tune.sh) and taken on to the held-out run
# (heldout.sh): defined once, so the held-out run uses exactly the tuned settings.
#
# variant NAME SINGLE_DIR prints the `rfx bench humaneval` flags of variant NAME, replaying the
# single episodes in SINGLE_DIR (so each starts from single's first attempt).
VARIANTS=(reflexion-today reflexion-explore reflexion-1.5b-reflector tree-search)

variant() {
  local sampled="--retries sampled --feedback-level trace --retry-context fresh"
  case $1 in
    reflexion-today) echo "--strategy reflexion --retries greedy --replay-from $2" ;;
    reflexion-explore) echo "--strategy reflexion $sampled --replay-from $2" ;;
    reflexion-1.5b-reflector) echo "--strategy reflexion $sampled --reflector-model local-1.5b --replay-from $2" ;;
    tree-search) echo "--strategy tree_search $sampled --branching 2 --max-trials 5 --replay-from $2" ;;
    *) echo "unknown variant $1 (variants: ${VARIANTS[*]})" >&2; return 2 ;;
  esac
}

# run_steps SIZE OUT IDS STEP...: each step as an `rfx bench humaneval --out OUT/STEP` run of the
# local SIZE model (flags from the caller's `step` function; `report` calls its `report`), on the
# size's own server, or with PORT set on a second server of the same model (a lane: one llama.cpp
# server answers one request at a time on one thread). The model name stays local-SIZE either way,
# so replayed requests still match.
run_steps() {
  local size=$1 out=$2 ids=$3 name args
  shift 3
  local actor=(--model "local-$size")
  if [ -n "${PORT:-}" ]; then
    .venv/bin/rfx model start --size "$size" --port "$PORT" >/dev/null
    actor+=(--base-url "http://127.0.0.1:$PORT/v1" --api-key none)
  fi
  for name in "$@"; do
    if [ "$name" = report ]; then report; continue; fi
    args=$(step "$name")
    echo "== $size $name: $args" >&2
    # shellcheck disable=SC2086  # the step's words are meant to split
    .venv/bin/rfx bench humaneval --ids "$ids" "${actor[@]}" --concurrency 2 --max-trials 3 --sampling-seed 0 \
      $args --out "$out/$name"
  done
}
