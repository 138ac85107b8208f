#!/usr/bin/env bash
# Issue 23: resume the held-out run in the background, one lane per actor size, each through its
# planned steps (bench/real_model/plan.py) from where its episodes files stop; the 1.5B lane's actor
# runs on a server of its own (port 8092) so the lanes do not queue behind each other. Needs the host
# set up (scripts/setup-host: Docker, Redis) and both sizes installed (`rfx model install --size`).
#
#     bench/real_model/lanes.sh              # start the lanes that are not running; logs in $LOGS (/tmp)
#     bench/real_model/snapshot.sh           # now and then: commit what has finished
set -euo pipefail
cd "$(dirname "$0")/../.."
LOGS=${LOGS:-/tmp}
for size in $(python3 bench/real_model/plan.py sizes); do
  if pgrep -f "bench/real_model/heldout.sh $size( |$)" >/dev/null; then
    echo "lanes.sh: the $size lane is running already"
    continue
  fi
  port=
  [ "$size" = 1.5b ] && port=8092
  (PORT=$port setsid nohup bench/real_model/heldout.sh "$size" >"$LOGS/heldout-$size.log" 2>&1 &)
  echo "lanes.sh: the $size lane started (log $LOGS/heldout-$size.log)"
done
