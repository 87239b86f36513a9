"""`lbcore dns ZONE.json` as a subprocess on 127.0.0.1 (port 0), queried with dnspython,
stopped by its pid with SIGTERM (and SIGINT); bounded in time."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("dns.message")

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

pytestmark = pytest.mark.timeout(120)

ZONE = {
    "ResourceRecordSets": [
        {"Name": "example.com.", "Type": "SOA", "TTL": 900, "ResourceRecords": [
            {"Value": "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 "
                      "1209600 86400"}]},
        {"Name": "example.com.", "Type": "NS", "TTL": 172800,
         "ResourceRecords": [{"Value": "ns-1.awsdns-01.org."}]},
        {"Name": "www.example.com.", "Type": "A", "TTL": 60,
         "ResourceRecords": [{"Value": "192.0.2.1"}]},
        {"Name": "f.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "p",
         "Failover": "PRIMARY", "HealthCheckId": "hc-1",
         "ResourceRecords": [{"Value": "192.0.2.20"}]},
        {"Name": "f.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "s",
         "Failover": "SECONDARY", "ResourceRecords": [{"Value": "192.0.2.21"}]},
        {"Name": "ip.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "eu",
         "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "eu"},
         "ResourceRecords": [{"Value": "192.0.2.30"}]},
        {"Name": "ip.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "other",
         "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "*"},
         "ResourceRecords": [{"Value": "192.0.2.31"}]},
        {"Name": "geo.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "de",
         "GeoLocation": {"CountryCode": "DE"}, "ResourceRecords": [{"Value": "192.0.2.40"}]},
        {"Name": "geo.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "any",
         "GeoLocation": {"CountryCode": "*"}, "ResourceRecords": [{"Value": "192.0.2.41"}]},
    ],
    "HealthChecks": [{"Id": "hc-1", "HealthCheckConfig": {
        "Type": "HTTP", "FailureThreshold": 3, "RequestInterval": 30}}],
    "CidrCollections": {"c-1": [{"CidrBlock": "198.51.100.0/24", "LocationName": "eu"}]},
}
LOCATIONS = {"198.51.100.0/24": {"country": "DE", "continent": "EU"}}


def start(tmp_path, *extra):
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps(ZONE))
    env = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
    proc = subprocess.Popen([sys.executable, "-m", "lbcore", "dns", str(zone), "--port", "0",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()            # bounded by the test's timeout mark
    if "port" not in line:
        proc.kill()
        pytest.fail(f"lbcore dns did not start: {line!r} {proc.stderr.read()!r}")
    port = int(line.split(" port ")[1].split()[0])
    return proc, port


def ask(port, name, **kw):
    return dns.query.udp(dns.message.make_query(name, "A", **kw), "127.0.0.1", port=port,
                         timeout=2.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_a_zone_json_and_stops_on_a_signal(tmp_path, sig):
    loc = tmp_path / "locations.json"
    loc.write_text(json.dumps(LOCATIONS))
    proc, port = start(tmp_path, "--locations", str(loc))
    try:
        assert [rd.to_text() for rd in ask(port, "www.example.com").answer[0]] == ["192.0.2.1"]
        assert ask(port, "f.example.com").answer[0][0].to_text() == "192.0.2.20"
        ecs = [dns.edns.ECSOption("198.51.100.0", 24)]
        assert ask(port, "ip.example.com", use_edns=0, options=ecs).answer[0][0].to_text() \
            == "192.0.2.30"
        assert ask(port, "ip.example.com").answer[0][0].to_text() == "192.0.2.31"
        assert ask(port, "geo.example.com", use_edns=0, options=ecs).answer[0][0].to_text() \
            == "192.0.2.40"
        assert ask(port, "nope.example.com").rcode() == dns.rcode.NXDOMAIN
        assert ask(port, "example.org").rcode() == dns.rcode.REFUSED
    finally:
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_a_bad_zone_file_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{\"ResourceRecordSets\": [{\"Name\": \"x.\", \"Type\": \"NOPE\"}]}")
    env = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
    for args in ([str(bad)], [str(tmp_path / "missing.json")]):
        p = subprocess.run([sys.executable, "-m", "lbcore", "dns", *args, "--port", "0"],
                           capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 2 and p.stderr.startswith("lbcore: error:"), p.stderr
        assert "Traceback" not in p.stderr


@pytest.mark.parametrize("kind", [{"Type": "HTTP"},
                                  {"Type": "HTTPS_STR_MATCH", "SearchString": "ok"}])
def test_probe_runs_the_zone_health_checks(tmp_path, kind):
    """--probe: the PRIMARY's HTTP (or HTTPS_STR_MATCH) check points at a closed port on
    127.0.0.1, so its first probe fails (FailureThreshold 1) and the answer moves to
    SECONDARY."""
    import copy
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    zone = copy.deepcopy(ZONE)
    zone["HealthChecks"][0]["HealthCheckConfig"].update(
        {"IPAddress": "127.0.0.1", "Port": dead, "ResourcePath": "/health",
         "FailureThreshold": 1, "RequestInterval": 10, **kind})
    path = tmp_path / "zone.json"
    path.write_text(json.dumps(zone))
    env = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
    proc = subprocess.Popen([sys.executable, "-m", "lbcore", "dns", str(path), "--port", "0",
                             "--probe"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "probing 1 health checks" in line, (line, proc.stderr.read())
        port = int(line.split(" port ")[1].split()[0])
        deadline = time.monotonic() + 10
        got = None
        while time.monotonic() < deadline:
            got = ask(port, "f.example.com").answer[0][0].to_text()
            if got == "192.0.2.21":
                break
            time.sleep(0.1)
        assert got == "192.0.2.21"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
