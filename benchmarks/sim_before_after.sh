#!/usr/bin/env bash
# Simulator speed, the Python side of BASE (default main) vs this checkout, alternating in
# one venv (the compiled engine is the one built here). Needs a clean work tree for
# python/lbcore/{sim,cli.py,elb}; restores HEAD's files at the end of each round.
#   bash benchmarks/sim_before_after.sh [BASE]
set -e
cd "$(dirname "$0")/.."; ROOT=$PWD; BASE=${1:-main}
measure() {  # label
  cd /tmp
  for n in 1000000 1000000 10000000; do
    /usr/bin/time -f "%e %M" lbcore simulate --requests $n > /tmp/lbcore_sim_ab.txt 2>/tmp/lbcore_sim_ab.err
    echo "$1 n=$n wall_rss=$(tail -1 /tmp/lbcore_sim_ab.err) :: $(sed -n 2p /tmp/lbcore_sim_ab.txt | sed 's/.*engine/engine/')"
  done
  python -c "
import time
from lbcore.sim import load_scenario
from lbcore.sim.model import compile_scenario
s = load_scenario(None); compile_scenario(s, requests=10**6)
t = []
for _ in range(7):
    t0 = time.perf_counter(); compile_scenario(s, requests=10**6); t.append(time.perf_counter() - t0)
print('$1 compile_scenario min of 7: %.4f s' % min(t))"
  cd "$ROOT"
}
for round in 1 2; do
  git checkout -q "$BASE" -- python/lbcore/sim python/lbcore/cli.py python/lbcore/elb
  measure before
  git checkout -q HEAD -- python/lbcore/sim python/lbcore/cli.py python/lbcore/elb
  measure after
done
git status --short
