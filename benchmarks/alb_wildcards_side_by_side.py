"""One process: a "before" elb/_rules.py vs this tree's, interleaved, min of 5-7; ALB shapes
of benchmarks/bench_alb.py (1/10/100 rules, warm and cold) and 10 / 1,000 path-pattern
rules of each pattern shape (cold). Run:

    python benchmarks/alb_wildcards_side_by_side.py /path/to/before/python/lbcore/elb/_rules.py
"""
import importlib.util, sys, time
import os
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
spec = importlib.util.spec_from_file_location("lbcore.elb._rules_main", sys.argv[1])
main_rules = importlib.util.module_from_spec(spec); spec.loader.exec_module(main_rules)
spec = importlib.util.spec_from_file_location("lbcore.elb._rules_new", os.path.join(HERE, "..", "python", "lbcore", "elb", "_rules.py"))
new_rules = importlib.util.module_from_spec(spec); spec.loader.exec_module(new_rules)
import bench_alb
from lbcore.elb import Request
MODS = {"main": main_rules, "branch": new_rules}    # main = the "before" file
def rs_of(mod, rules):
    return mod.RuleSet([mod.parse_rule(r) for r in rules], mod.parse_rule({"Priority": "default", "IsDefault": True}))
SHAPES = {"prefix /api/v{i}/*": (lambda i: f"/api/v{i}/*", lambda i, k: f"/api/v{i}/p{k}"),
          "suffix */v{i}.json": (lambda i: f"*/v{i}.json", lambda i, k: f"/x{k}/v{i}.json"),
          "infix */v{i}/*": (lambda i: f"*/v{i}/*", lambda i, k: f"/x{k}/v{i}/y"),
          "two stars *a{i}*b*": (lambda i: f"*a{i}*b*", lambda i, k: f"/q{k}a{i}/zb"),
          "'?' ?/v{i}?*": (lambda i: f"?/v{i}?*", lambda i, k: f"//v{i}xx{k}")}
def timeit(fn, m, reps=7):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) / m * 1e9)
    return ts
rows = []
for nr in (1, 10, 100):
    rules = bench_alb.make_rules(nr)
    req = bench_alb.last_request(nr)
    R = {k: rs_of(m, rules) for k, m in MODS.items()}
    res = {k: [] for k in MODS}
    cold = {k: iter([bench_alb.last_request(nr, f"p{j}{k}") for j in range(7 * 3000 + 10)]) for k in MODS}
    resc = {k: [] for k in MODS}
    for rep in range(7):
        for k in MODS:
            mt = R[k].match
            def warm():
                for _ in range(3000): mt(req)
            res[k] += timeit(warm, 3000, 1)
            it = cold[k]
            def c():
                for _ in range(3000): mt(next(it))
            resc[k] += timeit(c, 3000, 1)
    rows.append((f"bench_alb shapes, {nr} rules, warm", min(res["main"]), min(res["branch"])))
    rows.append((f"bench_alb shapes, {nr} rules, cold", min(resc["main"]), min(resc["branch"])))
for name, (pat, path) in SHAPES.items():
    for nr in (10, 1000):
        rules = [{"Priority": str(i + 1), "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": [pat(i)]}}]} for i in range(nr)]
        R = {k: rs_of(m, rules) for k, m in MODS.items()}
        m = 300 if nr == 1000 else 2000
        its = {k: iter([Request("GET", path(nr - 1 - j % 7, j)) for j in range(m * 8)]) for k in MODS}
        res = {k: [] for k in MODS}
        for rep in range(5):
            for k in MODS:
                mt, it = R[k].match, its[k]
                def c():
                    for _ in range(m): mt(next(it))
                res[k] += timeit(c, m, 1)
        rows.append((f"path {name}, {nr} rules, cold", min(res["main"]), min(res["branch"])))
for name, a, b in rows:
    print(f"| {name} | {a/1000:,.2f} | {b/1000:,.2f} | {a/b:.2f} |")
