"""RoundRobin.pick(now), unweighted over 100 targets, against next(itertools.cycle) in the
same process (issue 19's "<= 1.5x itertools.cycle"; docs/performance.md, Threads).
    python benchmarks/roundrobin_vs_cycle.py LABEL
Run it alternately in two venvs to compare builds."""
import itertools
import sys
import timeit

from lbcore import RoundRobin

names = [f"t{i}" for i in range(100)]
g = {"pick": RoundRobin(names).pick, "c": itertools.cycle(names), "next": next}


def best(stmt: str, number: int = 200_000) -> float:
    return min(timeit.repeat(stmt, globals=g, number=number, repeat=15)) / number * 1e9


a, b = best("pick(0.0)"), best("next(c)")
print(f"{sys.argv[1] if len(sys.argv) > 1 else 'run'}: RoundRobin.pick(0.0) {a:.1f} ns, "
      f"next(cycle) {b:.1f} ns, ratio {a / b:.2f}")
