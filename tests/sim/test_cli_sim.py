"""`lbcore simulate` / `lbcore validate`: outputs and every user-error path (exit 2, no traceback)."""
import json
import subprocess
import sys

import pytest

from lbcore.cli import main
from lbcore.sim import DEFAULT_SCENARIO

GOOD = DEFAULT_SCENARIO.read_text()
EU_LOC = "location = { latitude = 50.1, longitude = 8.7 }"
ALB_EU = 'name = "alb-euw1"\ntype = "application"'
SECOND_NLB = """
[[load_balancers]]
name = "nlb-two"
type = "network"
region = "us-east-1"
default_forward = [{ target_group = "stream-use1" }]
"""
assert GOOD.count(EU_LOC) == 1 and GOOD.count(ALB_EU) == 1


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_simulate_default_reduced(capsys, tmp_path):
    out_json = tmp_path / "r.json"
    code, out, err = run(capsys, "simulate", "--requests", "20_000", "--json", str(out_json))
    assert code == 0
    assert "20,000 requests" in out
    for needle in ("DNS answers by record set", "Throttled (429) by limit", "web-use1",
                   "least_outstanding_requests", "latency ms", "outstanding", "M requests/s"):
        assert needle in out
    data = json.loads(out_json.read_text())
    assert data["requests"] == 20_000
    assert {g["name"] for g in data["target_groups"]} >= {"web-use1", "web-euw1", "stream-use1"}


def test_simulate_json_to_stdout_is_the_report(capsys):
    code, out, _ = run(capsys, "simulate", "--requests", "500", "--json", "-", "--seed", "4")
    assert code == 0
    data = json.loads(out)
    assert data["seed"] == 4 and data["requests"] == 500


def test_validate_ok(capsys):
    code, out, _ = run(capsys, "validate", str(DEFAULT_SCENARIO))
    assert code == 0 and "OK" in out and "6 target groups" in out


def test_entry_point_runs_as_a_process():
    p = subprocess.run([sys.executable, "-m", "lbcore", "simulate", "--requests", "1000",
                        "--quiet"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "1,000 requests" in p.stdout


BAD = [
    # (what is wrong, text, expected fragments of the message)
    ("bad TOML", "[simulation\nrequests = 1\n", ["invalid TOML", "line 1"]),
    ("unknown key", GOOD.replace("seed = 2026", "seed = 2026\ncolour = 1"),
     ["simulation.colour", "unknown key"]),
    ("wrong type", GOOD.replace("rps = 3000", 'rps = "lots"'),
     ["traffic.rate[0].rps", "expected a number"]),
    ("out of range", GOOD.replace("interval = 10, healthy", "interval = 1, healthy", 1),
     ["target_groups[0].health_check.interval", ">= 5"]),
    ("missing key", GOOD.replace('name = "alb-use1"\ntype', 'type', 1),
     ["load_balancers[0].name", "missing required key"]),
    ("unknown reference", GOOD.replace('forward = [{ target_group = "api-use1" }]',
                                       'forward = [{ target_group = "nope" }]'),
     ["load_balancers[0].rules[0].forward[0].target_group", "unknown target group 'nope'"]),
    ("bad choice", GOOD.replace('"round_robin"', '"fastest"'),
     ['target_groups[1].attributes."load_balancing.algorithm.type"', "must be one of",
      "power_of_two_choices"]),
    ("unknown event target", GOOD.replace('target = "web-1c"', 'target = "web-9"', 1),
     ["events[0].target", "unknown target 'web-9'"]),
    ("rtt to unknown Region", GOOD.replace("eu-west-1 = 0.085", "eu-west-9 = 0.085"),
     ["traffic.clients[0].rtt.eu-west-9", "traffic.clients[0].rtt", "missing round-trip"]),
    ("decreasing rate times", GOOD.replace("at = 180", "at = 30"),
     ["traffic.rate[2].at", "increasing"]),
    ("bad event action", GOOD.replace('action = "fail"', 'action = "explode"'),
     ["events[0].action", "one of"]),
    ("mixed routing", GOOD.replace('routing = "weighted"\nweight = 30', 'routing = "simple"'),
     ["routing", "mix routing policies"]),
    ("inspection not GENEVE", GOOD.replace('inspection = "inspect-use1"', 'inspection = "web-use1"'),
     ["load_balancers[0].inspection", "GENEVE"]),
    ("forward to GENEVE group", GOOD.replace('forward = [{ target_group = "api-use1" }]',
                                             'forward = [{ target_group = "inspect-use1" }]'),
     ["load_balancers[0].rules[0].forward[0].target_group", "inspection tier"]),
    ("too many workers", GOOD.replace("workers = 64,", "workers = 99999,")
     .replace("workers = 16,", "workers = 99999,"),
     ["target_groups:", "expected at most 1,000,000"]),
    ("nlb to http group", GOOD.replace('default_forward = [{ target_group = "stream-use1" }]',
                                       'default_forward = [{ target_group = "web-use1" }]'),
     ["load_balancers[2].default_forward[0].target_group", "network"]),
    ("bad elbv2 attribute in a list",
     GOOD.replace('Value = "use_load_balancer_configuration"', 'Value = "sometimes"'),
     ["target_groups[4].attributes[0].Value", "load_balancing.cross_zone.enabled must be one of"]),
    ("bad describe_rules condition",
     GOOD.replace('HostHeaderConfig = { Values = ["api.example.com"] }',
                  'HostHeaderConfig = { Values = ["api example"] }'),
     ["load_balancers[1].rules[0].conditions[0]", "invalid host name pattern"]),
    ("rule over the elbv2 per-rule quota of 5 condition values",
     GOOD.replace('conditions = [{ field = "path-pattern", values = ["/healthz"] }]',
                  'conditions = [{ field = "path-pattern", values = ["/a", "/b", "/c"] },\n'
                  '  { field = "http-request-method", values = ["GET", "PUT", "POST"] }]', 1),
     ["load_balancers[0].rules[1].conditions", "6 condition values, at most 5 per rule"]),
    ("two host-header conditions in one rule",
     GOOD.replace('conditions = [{ field = "host-header", values = ["api.example.com"] }]',
                  'conditions = [{ field = "host-header", values = ["api.example.com"] },\n'
                  '  { field = "host-header", values = ["b.example.com"] }]', 1),
     ["load_balancers[0].rules[0].conditions", "at most one host-header condition"]),
    ("bad ResourceRecordSet", GOOD.replace('Type = "A"', 'Type = "Q"'),
     ["route53.records[6]", "Type"]),
    ("bad client CIDR", GOOD.replace('"203.0.113.0/24"', '"203.0.113.0/33"'),
     ["traffic.clients[1].cidrs[0]", "CIDR"]),
    ("flow share out of range", GOOD.replace("udp = 0.2", "udp = 2"),
     ["traffic.flows.udp", "<= 1"]),
    ("bad client continent", GOOD.replace(EU_LOC, EU_LOC + '\ngeolocation = { continent = "Europe" }'),
     ["traffic.clients[1].geolocation", "ContinentCode"]),
    ("bad client country", GOOD.replace(EU_LOC, EU_LOC + '\ngeolocation = { country = "Germany" }'),
     ["traffic.clients[1].geolocation", "CountryCode"]),
    ("client subdivision without country",
     GOOD.replace(EU_LOC, EU_LOC + '\ngeolocation = { subdivision = "CA" }'),
     ["traffic.clients[1].geolocation", "SubdivisionCode"]),
    ("client in the default location",
     GOOD.replace(EU_LOC, EU_LOC + '\ngeolocation = { country = "*" }'),
     ["traffic.clients[1].geolocation", "not where a client is"]),
    ("cross_zone = true on an ALB", GOOD.replace(ALB_EU, ALB_EU + "\ncross_zone = true"),
     ["load_balancers[1].cross_zone", "network load balancer setting"]),
    ("cross_zone = false on an ALB", GOOD.replace(ALB_EU, ALB_EU + "\ncross_zone = false"),
     ["load_balancers[1].cross_zone", "network load balancer setting"]),
    ("negative record weight", GOOD.replace('record = "api-euw1"\nweight = 50',
                                            'record = "api-euw1"\nweight = -5'),
     ["events[7].weight", ">= 0"]),
    ("no users", GOOD.replace("sessions = 20_000", "sessions = 0"),
     ["traffic.clients[1].sessions", "expected an integer >= 1"]),
    ("users not a count", GOOD.replace("sessions = 20_000", 'sessions = "lots"'),
     ["traffic.clients[1].sessions", "expected an integer"]),
    ("too many cookies", GOOD.replace("sessions = 20_000", "sessions = 15_000_000").replace(
        '"least_outstanding_requests" }\nhealth_check = { interval = 10',
        '"least_outstanding_requests", "stickiness.enabled" = "true" }\n'
        'health_check = { interval = 10', 1),
     ["traffic.clients[1].sessions", "x 2 sticky target groups = 30,000,000 cookies",
      "expected at most 20,000,000"]),
    ("app_cookie stickiness", GOOD.replace('"stickiness.type" = "lb_cookie"',
                                           '"stickiness.type" = "app_cookie"'),
     ['target_groups[1].attributes."stickiness.type"', "app_cookie stickiness",
      "expected 'lb_cookie'"]),
    ("lb_cookie duration out of range",
     GOOD.replace('"stickiness.lb_cookie.duration_seconds" = "3600"',
                  '"stickiness.lb_cookie.duration_seconds" = "700000"'),
     ['target_groups[1].attributes."stickiness.lb_cookie.duration_seconds"', "604800"]),
    ("target group of two NLBs", GOOD + SECOND_NLB,
     ["load_balancers[3].default_forward[0].target_group", "already serves",
      "'nlb-use1'"]),
]


@pytest.mark.parametrize("what,text,needles", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("command", ["validate", "simulate"])
def test_bad_scenarios_exit_2_naming_file_and_key(capsys, tmp_path, command, what, text, needles):
    path = write(tmp_path, text)
    code, out, err = run(capsys, command, path)
    assert code == 2, what
    assert "Traceback" not in err
    for line in err.strip().splitlines():
        assert line.startswith(f"lbcore: error: {path}: "), line
    for n in needles:
        assert n in err, (what, n, err)


@pytest.mark.parametrize("old,new,where", [
    ('record = "api-euw1"\nweight = 50', 'record = "api-euw1"\nweight = -5', "events[7].weight"),
    ('target = "web-1c"\n[[events]]\nat = 100',
     'target = "web-1c"\n[[events]]\nat = 95\naction = "set_weight"\ntarget_group = "web-use1"\n'
     'target = "web-1a"\nweight = -1\n[[events]]\nat = 100', "events[1].weight"),
    ('set_identifier = "api-euw1"\nrouting = "weighted"\nweight = 30',
     'set_identifier = "api-euw1"\nrouting = "weighted"\nweight = 300', "route53.records[3].weight"),
])
def test_a_bad_value_is_one_message_not_also_missing(capsys, tmp_path, old, new, where):
    assert old in GOOD
    code, _, err = run(capsys, "validate", write(tmp_path, GOOD.replace(old, new, 1)))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and f": {where}: expected" in lines[0], lines


def test_every_problem_is_reported(capsys, tmp_path):
    text = GOOD.replace("seed = 2026", "seed = -1\nfoo = 2").replace("rps = 3000", "rps = -5")
    code, _, err = run(capsys, "validate", write(tmp_path, text))
    assert code == 2
    assert "simulation.seed" in err and "simulation.foo" in err and "traffic.rate[0].rps" in err


def test_missing_file_and_directory(capsys, tmp_path):
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.toml"))
    assert code == 2 and "nope.toml: no such file" in err
    code, _, err = run(capsys, "simulate", str(tmp_path))
    assert code == 2 and "directory" in err


def test_not_utf8(capsys, tmp_path):
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00")
    code, _, err = run(capsys, "validate", str(p))
    assert code == 2 and "UTF-8" in err


def test_bad_arguments_exit_2(capsys):
    for argv in (["simulate", "--requests", "0"], ["simulate", "--seed", "-3"],
                 ["simulate", "--requests", "many"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


def test_unwritable_json_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "simulate", "--requests", "100",
                       "--json", str(tmp_path / "no" / "dir" / "r.json"))
    assert code == 2 and "cannot write the JSON report" in err


def test_plot_without_matplotlib_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import raises ImportError
    code, _, err = run(capsys, "simulate", "--requests", "100", "--plot", str(tmp_path / "p.png"))
    assert code == 2 and "pip install 'lbcore[plot]'" in err and "Traceback" not in err


def test_plot_with_matplotlib(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    code, _, _ = run(capsys, "simulate", "--requests", "2000", "--plot", str(png))
    assert code == 0 and png.stat().st_size > 1000


def test_plot_labels_events_and_keeps_legends_off_the_data():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from lbcore.sim import load_scenario, simulate
    from lbcore.sim.report import plot_figure
    r = simulate(load_scenario(None), requests=20_000)
    fig = plot_figure(r)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        panels = [ax for ax in fig.axes if ax.get_legend() is not None]
        assert len(panels) == len(r["target_groups"])
        for ax, g in zip(panels, r["target_groups"]):
            leg = ax.get_legend()
            assert [t.get_text() for t in leg.get_texts()] == [t["id"] for t in g["targets"]]
            # the legend is right of the plotting area, so it covers no data
            assert leg.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
        axes = fig.axes + [c for ax in fig.axes for c in ax.child_axes]   # + the top axis
        shown = {t.get_text() for ax in axes for t in ax.get_xticklabels()}
        for ev in r["events"]:
            assert any(f"{ev['action']} {ev['what']}" in s for s in shown), ev
    finally:
        plt.close(fig)
