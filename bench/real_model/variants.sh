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
