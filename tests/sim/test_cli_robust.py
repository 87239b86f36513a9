"""The CLI on hostile scenario files and streams (issue 20, item 5): one line per problem
with its key path, exit 2, every problem listed; unit-sanity warnings; --version; a closed
pipe; plain-text help; `validate` without a path."""
import os
import re
import subprocess
import sys

import pytest

from lbcore import __version__
from lbcore.cli import build_parser, main
from lbcore.sim import DEFAULT_SCENARIO

GOOD = DEFAULT_SCENARIO.read_text()
WWW_EU = 'name = "www.example.com"\nset_identifier = "www-euw1"'
assert GOOD.count(WWW_EU) == 1


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def errors(err):
    lines = err.strip().splitlines()
    assert all(line.startswith(("lbcore: error: ", "lbcore: warning: ")) for line in lines), lines
    return [line for line in lines if line.startswith("lbcore: error: ")]


def write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return str(p)


ONE_PROBLEM = [
    ("empty record name", GOOD.replace('name = "www.example.com"', 'name = ""', 1),
     "route53.records[0].name", "empty name"),
    ("2,000-character record name",
     GOOD.replace('name = "www.example.com"', f'name = "{"a" * 2000}"', 1),
     "route53.records[0].name", "at most 255 bytes"),
    ("64-character label",
     GOOD.replace('name = "www.example.com"', f'name = "{"a" * 64}.example.com"', 1),
     "route53.records[0].name", "at most 63 characters"),
    ("256-byte record name",
     GOOD.replace('name = "www.example.com"', f'name = "{".".join(["a" * 60] * 5)}"', 1),
     "route53.records[0].name", "at most 255 bytes"),
    ("record name with a space", GOOD.replace('name = "www.example.com"', 'name = "w w"', 1),
     "route53.records[0].name", "printable ASCII"),
    ("200-character set identifier",
     GOOD.replace('set_identifier = "www-use1"', f'set_identifier = "{"s" * 200}"'),
     "route53.records[0].set_identifier", "at most 128 characters (Route 53 SetIdentifier)"),
    ("empty routing", GOOD.replace('routing = "latency"', 'routing = ""', 1),
     "route53.records[0].routing", "expected one of"),
    ("non-string condition field",
     GOOD.replace('conditions = [{ field = "host-header"', 'conditions = [{ field = 7', 1),
     "load_balancers[0].rules[0].conditions[0].field", "got an integer 7"),
    ("condition values not strings",
     GOOD.replace('values = ["api.example.com"]', 'values = [1]', 1),
     "load_balancers[0].rules[0].conditions[0].values[0]", "expected a string"),
    ("ResourceRecordSet name of 300 bytes",
     GOOD.replace('Name = "stream.example.com."', f'Name = "{".".join(["b" * 60] * 5)}"'),
     "route53.records[6].Name", "at most 255 bytes"),
]


@pytest.mark.parametrize("what,text,where,needle", ONE_PROBLEM, ids=[c[0] for c in ONE_PROBLEM])
def test_a_bad_value_is_one_line_naming_its_key(capsys, tmp_path, what, text, where, needle):
    path = write(tmp_path, text)
    for command in ("validate", "simulate"):
        code, _, err = run(capsys, command, path)
        lines = errors(err)
        assert code == 2, (what, err)
        assert len(lines) == 1 and f"{path}: {where}: " in lines[0] and needle in lines[0], lines
        assert len(lines[0]) < 400, lines[0]


def test_a_typo_routing_on_one_of_two_records_lists_every_problem(capsys, tmp_path):
    # once a TypeError (the two records' policies compared with None) hid the rest
    text = GOOD.replace(WWW_EU + '\nrouting = "latency"', WWW_EU + '\nrouting = "latancy"') \
        .replace("rps = 3000", "rps = -1").replace('target = "web-1c"', 'target = "web-9"', 1)
    code, _, err = run(capsys, "validate", write(tmp_path, text))
    lines = errors(err)
    assert code == 2
    assert [re.search(r"s\.toml: ([^:]+):", line).group(1) for line in lines] == \
        ["traffic.rate[0].rps", "route53.records[1].routing", "events[0].target"], lines
    assert "'latancy'" in lines[1] and "'latency'" in lines[1]


@pytest.mark.parametrize("depth", [50, 5000])
def test_deeply_nested_toml(capsys, tmp_path, depth):
    text = GOOD.replace("udp = 0.2", "udp = " + "[" * depth + "]" * depth)
    code, _, err = run(capsys, "validate", write(tmp_path, text))
    lines = errors(err)
    assert code == 2 and len(lines) == 1 and len(lines[0]) < 400, lines
    assert ("traffic.flows.udp: expected a number" if depth == 50 else "nested too deeply") \
        in lines[0]


def test_unreadable_paths(capsys, tmp_path):
    loop = tmp_path / "loop.toml"
    os.symlink(loop, loop)
    (tmp_path / "file").write_text("x")
    cases = [(str(loop), "cannot read the file"),
             (str(tmp_path / ("n" * 5000)), "cannot read the file"),
             (str(tmp_path / "file" / "s.toml"), "cannot read the file"),
             (str(tmp_path / "nul\x00.toml"), "not a usable file name")]
    for path, needle in cases:
        code, _, err = run(capsys, "validate", path)
        lines = errors(err)
        assert code == 2 and len(lines) == 1 and needle in lines[0], (path[:80], err)
        assert len(lines[0]) < 400


def test_validate_without_a_path_checks_the_default_scenario(capsys):
    code, out, err = run(capsys, "validate")
    assert code == 0 and out.startswith("default scenario: OK:") and err == ""


def test_unit_sanity_warnings_name_the_key_and_keep_exit_0(capsys, tmp_path):
    text = GOOD.replace("eu-west-1 = 0.085", "eu-west-1 = 85") \
        .replace("mean = 0.015 } },\n  { id = \"api-2\"", "mean = 15 } },\n  { id = \"api-2\"") \
        .replace("at = 230", "at = 4000")
    path = write(tmp_path, text)
    code, out, err = run(capsys, "validate", path)
    assert code == 0 and "OK" in out
    warns = err.strip().splitlines()
    assert all(w.startswith(f"lbcore: warning: {path}: ") for w in warns), warns
    keys = [re.search(r"s\.toml: ([^:]+):", w).group(1) for w in warns]
    assert keys == ["traffic.clients[0].rtt.eu-west-1",
                    "target_groups[2].targets[0].service.mean", "events[5].at"], warns
    assert "85 ms is 0.085" in warns[0] and "never happens" in warns[2]


def test_a_short_run_warns_of_the_events_it_never_reaches(capsys):
    code, _, err = run(capsys, "simulate", "--requests", "2000", "--quiet")
    warns = err.strip().splitlines()
    assert code == 0
    assert sum("events[" in w and "after the run ends" in w for w in warns) == 9, warns
    # the default request count reaches every event: no warning
    code, _, err = run(capsys, "validate")
    assert err == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"lbcore {__version__}"


def _help_texts():
    parser = build_parser()
    yield parser.format_help()
    for p in parser._subparsers._group_actions[0].choices.values():
        yield p.format_help()


def test_help_is_plain_text():
    texts = list(_help_texts())
    assert len(texts) >= 5
    for text in texts:
        assert not re.search(r"``|:(func|class|data|meth):`|^\s*\.\. |\*\*", text, re.M), text


@pytest.mark.parametrize("argv", [["simulate", "--requests", "3000", "--quiet"],
                                  ["bench", "--quick"], ["validate"]])
def test_a_closed_pipe_ends_quietly(argv):
    # the reader is gone before the first write (lbcore ... | head -0): EPIPE at once
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "lbcore", *argv], stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(w)
    assert p.returncode == 141, p.stderr
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
    assert all(line.startswith("lbcore: warning: ") for line in p.stderr.splitlines()), p.stderr
