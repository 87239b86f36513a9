"""RegexValues rules, before and after in one process, interleaved: RuleSet.match on
requests with a new path each, with ``lbcore.elb._rules`` of git revision REV (default
b52c0a0: one combined pattern per regex slot) loaded under another name beside the
working tree's (the prefix index). Run from the repository root:

    python benchmarks/regex_before_after.py [REV]
"""
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]
import bench_alb as b                                     # noqa: E402
from lbcore.elb import _rules as new                      # noqa: E402


def load_old(rev):
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:python/lbcore/elb/_rules.py"],
                          check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_rules.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_rules", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(mod, n):
    return mod.RuleSet([mod.parse_rule(r) for r in b.make_regex_rules(n)],
                       mod.parse_rule({"Priority": "default", "IsDefault": True}))


def main(rev="b52c0a0"):
    old = load_old(rev)
    for n, per_batch_old in ((100, 200), (1000, 10)):
        rs = {"before": build(old, n), "after": build(new, n)}
        times = {"before": [], "after": []}
        k = 0
        for batch in range(15):
            for name in ("before", "after") if batch % 2 == 0 else ("after", "before"):
                m = per_batch_old if name == "before" else 2000
                reqs = [b.regex_request(n, 10**6 + k + j) for j in range(m)]
                k += m
                match = rs[name].match
                t0 = time.perf_counter()
                for r in reqs:
                    match(r)
                times[name].append((time.perf_counter() - t0) / m * 1e6)
                assert rs[name].match(reqs[0]).priority == n
        med = {k_: statistics.median(v) for k_, v in times.items()}
        print(f"{n} rules: median us/match before {med['before']:.1f}  after "
              f"{med['after']:.2f}  ratio {med['before'] / med['after']:.0f}x   (min "
              f"{min(times['before']):.1f} / {min(times['after']):.2f})")


if __name__ == "__main__":
    main(*sys.argv[1:])
