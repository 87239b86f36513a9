"""MaxMindLocator on a small .mmdb written here with mmdb-writer (never downloaded), and
geolocation through the DNS server by ECS with it."""
import pytest

pytest.importorskip("dns.message")
pytest.importorskip("maxminddb")
mmdb_writer = pytest.importorskip("mmdb_writer")

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
from netaddr import IPSet  # noqa: E402

from lbcore.dns import DNSServer, MaxMindLocator  # noqa: E402
from lbcore.route53 import Client, Geolocation, HostedZone, RecordSet  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def mmdb(tmp_path):
    w = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    w.insert_network(IPSet(["198.51.100.0/24"]), {
        "continent": {"code": "EU"}, "country": {"iso_code": "DE"},
        "location": {"latitude": 50.11, "longitude": 8.68}})
    w.insert_network(IPSet(["203.0.113.0/24"]), {
        "continent": {"code": "NA"}, "country": {"iso_code": "US"},
        "subdivisions": [{"iso_code": "VA"}],
        "location": {"latitude": 38.95, "longitude": -77.45}})
    w.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "JP"}})
    path = tmp_path / "test.mmdb"
    w.to_db_file(str(path))
    return str(path)


def test_locates_from_the_database(mmdb):
    with MaxMindLocator(mmdb) as loc:
        assert loc("198.51.100.0") == Client(ip="198.51.100.0", continent="EU", country="DE",
                                             latitude=50.11, longitude=8.68)
        us = loc("203.0.113.9")
        assert (us.country, us.subdivision, us.continent) == ("US", "VA", "NA")
        assert loc("2001:db8::1").country == "JP"
        assert loc("192.0.2.1") == Client(ip="192.0.2.1")        # not in the database


def test_geolocation_by_ecs_with_a_maxmind_database(mmdb):
    zone = HostedZone("example.com", [
        RecordSet("geo.example.com", "A", ["192.0.2.40"], geolocation=Geolocation(country="DE"),
                  set_identifier="de"),
        RecordSet("geo.example.com", "A", ["192.0.2.41"],
                  geolocation=Geolocation(country="US", subdivision="VA"), set_identifier="va"),
        RecordSet("geo.example.com", "A", ["192.0.2.42"], geolocation=Geolocation(country="*"),
                  set_identifier="any")])
    with MaxMindLocator(mmdb) as loc:
        server = DNSServer(zone, port=0, locator=loc)
        with server.serve_in_thread():
            host, port = server.address
            for subnet, want in [("198.51.100.0", "192.0.2.40"), ("203.0.113.0", "192.0.2.41"),
                                 ("192.0.2.0", "192.0.2.42")]:
                q = dns.message.make_query("geo.example.com", "A", use_edns=0,
                                           options=[dns.edns.ECSOption(subnet, 24)])
                r = dns.query.udp(q, host, port=port, timeout=2)
                assert r.answer[0][0].to_text() == want


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(ValueError, match="path"):
        MaxMindLocator(str(bad))
