"""Health checks that probe real endpoints on 127.0.0.1 (a small asyncio HTTP server made
here), and failover through the DNS server that follows them; bounded in time."""
from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time

import pytest

pytest.importorskip("dns.message")

import dns.asyncquery  # noqa: E402
import dns.message  # noqa: E402

from lbcore.dns import BODY_LIMIT, DNSServer, HealthProber, Probe  # noqa: E402
from lbcore.route53 import (CalculatedHealthCheck, HealthCheck, HostedZone,  # noqa: E402
                            RecordSet)

pytestmark = pytest.mark.timeout(60)


class Endpoint:
    """An HTTP/1.1 endpoint answering every request with ``status`` and ``body`` after
    ``delay`` seconds; ``up`` False closes connections at once."""

    def __init__(self, status=200, body=b"ok", delay=0.0, tls=None):
        self.status, self.body, self.delay, self.up = status, body, delay, True
        self.requests = []
        self.tls = tls                          # an ssl.SSLContext: serve HTTPS

    async def handle(self, reader, writer):
        try:
            line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            self.requests.append(line)
            if not self.up:
                return
            await asyncio.sleep(self.delay)
            writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(self.body)}\r\n"
                         f"\r\n".encode() + self.body)
            await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        tls = {} if self.tls is None else {"ssl": self.tls, "ssl_handshake_timeout": 5}
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, **tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe_once(endpoint_kw, **probe_kw) -> bool:
    async def main():
        async with Endpoint(**endpoint_kw) as ep:
            p = Probe(HealthCheck(), address="127.0.0.1", port=ep.port, **probe_kw)
            return await p.run()
    return asyncio.run(main())


@pytest.mark.parametrize("status, ok", [(200, True), (204, True), (302, True), (399, True),
                                        (404, False), (500, False), (199, False)])
def test_http_passes_on_2xx_and_3xx(status, ok):
    assert probe_once({"status": status}, type="HTTP") is ok


def test_http_str_match_searches_the_first_5120_bytes_of_the_body():
    kw = {"type": "HTTP_STR_MATCH", "search_string": "needle"}
    assert probe_once({"body": b"hay needle hay"}, **kw)
    assert probe_once({"body": b"x" * (BODY_LIMIT - 6) + b"needle"}, **kw)
    assert not probe_once({"body": b"x" * (BODY_LIMIT - 5) + b"needle"}, **kw)
    assert not probe_once({"body": b"needle", "status": 500}, **kw)
    assert not probe_once({"body": b"hay"}, **kw)


def test_http_sends_the_path_and_fails_when_slower_than_2_seconds():
    async def main():
        async with Endpoint() as ep:
            p = Probe(HealthCheck(), "HTTP", "127.0.0.1", ep.port, path="/health?x=1")
            assert await p.run()
            assert ep.requests[-1].startswith(b"GET /health?x=1 HTTP/1.1")
        async with Endpoint(delay=2.5) as slow:
            t = time.monotonic()
            assert not await Probe(HealthCheck(), "HTTP", "127.0.0.1", slow.port).run()
            assert time.monotonic() - t < 2.4
    asyncio.run(main())


def test_tcp_passes_when_it_connects():
    async def main():
        async with Endpoint() as ep:
            assert await Probe(HealthCheck(), "TCP", "127.0.0.1", ep.port).run()
        assert not await Probe(HealthCheck(), "TCP", "127.0.0.1", closed_port()).run()
        assert not await Probe(HealthCheck(), "HTTP", "127.0.0.1", closed_port()).run()
    asyncio.run(main())


def test_from_aws_and_bad_arguments():
    hc = HealthCheck()
    p = Probe.from_aws(hc, {"Type": "HTTP_STR_MATCH", "IPAddress": "192.0.2.1", "Port": 8080,
                            "ResourcePath": "/h", "FullyQualifiedDomainName": "web.example",
                            "SearchString": "ok"})
    assert (p.type, p.address, p.port, p.path, p.host, p.search_string) == \
        ("HTTP_STR_MATCH", "192.0.2.1", 8080, "/h", "web.example", "ok")
    assert Probe.from_aws(hc, {"Type": "TCP", "IPAddress": "192.0.2.1"}).port == 80
    with pytest.raises(ValueError, match="IPAddress"):
        Probe.from_aws(hc, {"Type": "HTTP", "FullyQualifiedDomainName": "x.example"})
    for unsupported in ("CLOUDWATCH_METRIC", "CALCULATED", "https"):  # HTTPS is probed now
        with pytest.raises(ValueError, match="type"):
            Probe(hc, unsupported, "192.0.2.1")
    with pytest.raises(ValueError, match="search_string"):
        Probe(hc, "HTTP_STR_MATCH", "192.0.2.1")
    with pytest.raises(ValueError, match="address"):
        Probe(hc, "HTTP", "example.com")
    with pytest.raises(ValueError, match="port"):
        Probe(hc, "HTTP", "192.0.2.1", 0)
    with pytest.raises(TypeError, match="check"):
        Probe(object(), "HTTP", "192.0.2.1")
    with pytest.raises(ValueError, match="interval"):
        HealthProber([p], interval=0)


def test_failover_follows_a_real_endpoint_down_and_back():
    """A failover pair whose PRIMARY has an HTTP health check probed by 3 checkers every
    50 ms: the endpoint stops answering -> SECONDARY; it recovers -> PRIMARY."""
    hc = HealthCheck("web", failure_threshold=2, request_interval=10, checkers=3)
    zone = HostedZone("example.com", [
        RecordSet("f.example.com", "A", ["192.0.2.20"], failover="PRIMARY",
                  set_identifier="p", health_check=hc),
        RecordSet("f.example.com", "A", ["192.0.2.21"], failover="SECONDARY",
                  set_identifier="s")])

    async def answer(server):
        q = dns.message.make_query("f.example.com", "A")
        host, port = server.address
        r = await dns.asyncquery.udp(q, host, port=port, timeout=2)
        return r.answer[0][0].to_text()

    async def wait_for(server, want, limit=5.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await answer(server) == want:
                return True
            await asyncio.sleep(0.05)
        return False

    async def main():
        async with Endpoint() as ep, DNSServer(zone, port=0) as server:
            async with HealthProber([Probe(hc, "HTTP", "127.0.0.1", ep.port)], interval=0.05):
                assert await wait_for(server, "192.0.2.20")
                await asyncio.sleep(0.2)
                assert await answer(server) == "192.0.2.20"
                ep.up = False
                assert await wait_for(server, "192.0.2.21")
                ep.up = True
                assert await wait_for(server, "192.0.2.20")
            assert len(ep.requests) > 10
    asyncio.run(main())


# --- HTTPS ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for CN=web.example signed by its own key, made here with the openssl
    CLI (no network, valid one day): Route 53 does not validate it, nor does Probe."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed (needed to make a self-signed "
                    "certificate for the HTTPS probe tests)")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=web.example"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def server_tls(self_signed, seen_sni=None):
    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if seen_sni is not None:
        ctx.sni_callback = lambda sock, name, c: seen_sni.append(name)
    return ctx


def https_once(self_signed, endpoint_kw, **probe_kw) -> bool:
    return probe_once(dict(endpoint_kw, tls=server_tls(self_signed)), **probe_kw)


@pytest.mark.parametrize("status, ok", [(200, True), (301, True), (404, False),
                                        (503, False)])
def test_https_passes_on_2xx_and_3xx_with_a_self_signed_certificate(self_signed, status, ok):
    assert https_once(self_signed, {"status": status}, type="HTTPS") is ok


def test_https_str_match_searches_the_first_5120_bytes_of_the_body(self_signed):
    kw = {"type": "HTTPS_STR_MATCH", "search_string": "needle"}
    assert https_once(self_signed, {"body": b"x" * (BODY_LIMIT - 6) + b"needle"}, **kw)
    assert not https_once(self_signed, {"body": b"x" * (BODY_LIMIT - 5) + b"needle"}, **kw)
    assert not https_once(self_signed, {"body": b"needle", "status": 500}, **kw)
    assert not https_once(self_signed, {"body": b"hay"}, **kw)


def test_https_fails_on_plain_http_and_plain_http_fails_on_tls(self_signed):
    assert not probe_once({}, type="HTTPS")                          # no TLS handshake
    assert not https_once(self_signed, {}, type="HTTP")             # TLS server, HTTP probe
    assert https_once(self_signed, {}, type="TCP")                  # TCP: connecting is enough


def test_https_timing_and_sni(self_signed):
    async def main():
        seen = []
        async with Endpoint(tls=server_tls(self_signed, seen)) as ep:
            p = Probe(HealthCheck(), "HTTPS", "127.0.0.1", ep.port, path="/h",
                      host="web.example")
            assert await p.run()
            assert ep.requests[-1].startswith(b"GET /h HTTP/1.1")
            assert seen == [None]                                   # no SNI by default
            sni = Probe(HealthCheck(), "HTTPS", "127.0.0.1", ep.port, host="web.example",
                        enable_sni=True)
            assert await sni.run()
            assert seen == [None, "web.example"]
        async with Endpoint(delay=2.5, tls=server_tls(self_signed)) as slow:
            t = time.monotonic()
            assert not await Probe(HealthCheck(), "HTTPS", "127.0.0.1", slow.port).run()
            assert time.monotonic() - t < 2.4                       # 2 s for the status
    asyncio.run(main())


def test_https_from_aws_and_arguments():
    hc = HealthCheck()
    p = Probe.from_aws(hc, {"Type": "HTTPS_STR_MATCH", "IPAddress": "192.0.2.1",
                            "FullyQualifiedDomainName": "web.example", "SearchString": "ok",
                            "EnableSNI": True})
    assert (p.type, p.port, p.host, p.enable_sni) == ("HTTPS_STR_MATCH", 443, "web.example",
                                                      True)
    assert Probe.from_aws(hc, {"Type": "HTTPS", "IPAddress": "192.0.2.1"}).port == 443
    assert not Probe.from_aws(hc, {"Type": "HTTP", "IPAddress": "192.0.2.1",
                                   "EnableSNI": True}).enable_sni
    with pytest.raises(ValueError, match="search_string"):
        Probe(hc, "HTTPS_STR_MATCH", "192.0.2.1")
    with pytest.raises(ValueError, match="enable_sni"):
        Probe(hc, "HTTP", "192.0.2.1", enable_sni=True)
    with pytest.raises(TypeError, match="enable_sni"):
        Probe(hc, "HTTPS", "192.0.2.1", enable_sni=1)


# --- Disabled, Inverted, calculated over probed checks -------------------------------------

def test_a_disabled_check_is_not_probed_and_stays_healthy():
    async def main():
        async with Endpoint(status=500) as e_off, Endpoint(status=500) as e_on:
            off = HealthCheck("off", failure_threshold=1, disabled=True)
            on = HealthCheck("on", failure_threshold=1)
            async with HealthProber([Probe(off, "HTTP", "127.0.0.1", e_off.port),
                                     Probe(on, "HTTP", "127.0.0.1", e_on.port)],
                                    interval=0.05):
                deadline = time.monotonic() + 5
                while len(e_on.requests) < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert len(e_on.requests) >= 3 and not e_off.requests   # disabled: no probes
                off.disabled = False                     # enabled again: probed again
                while not e_off.requests and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                off_before = len(e_off.requests)
            assert len(e_on.requests) >= 3 and off_before >= 1
            now = time.monotonic()
            assert not on.is_healthy(now)
            off.disabled = True
            assert off.is_healthy(now)                   # disabled: healthy whatever was seen
    asyncio.run(main())


def test_calculated_and_inverted_checks_over_probed_checks_through_the_server():
    """PRIMARY healthy while both of two probed endpoints are (a CALCULATED check, AND);
    a second record answers while an inverted check of the first endpoint is healthy."""
    a = HealthCheck("a", failure_threshold=1, request_interval=10)
    b = HealthCheck("b", failure_threshold=1, request_interval=10)
    both = CalculatedHealthCheck([a, b], 2, "both")
    a_down = HealthCheck("a-down", failure_threshold=1, request_interval=10, inverted=True)
    zone = HostedZone("example.com", [
        RecordSet("f.example.com", "A", ["192.0.2.20"], failover="PRIMARY",
                  set_identifier="p", health_check=both),
        RecordSet("f.example.com", "A", ["192.0.2.21"], failover="SECONDARY",
                  set_identifier="s"),
        RecordSet("m.example.com", "A", ["192.0.2.30"], multivalue=True,
                  set_identifier="x", health_check=a_down),
        RecordSet("m.example.com", "A", ["192.0.2.31"], multivalue=True,
                  set_identifier="y", health_check=a)])

    async def answer(server, name):
        host, port = server.address
        r = await dns.asyncquery.udp(dns.message.make_query(name, "A"), host, port=port,
                                     timeout=2)
        return sorted(rr.to_text() for rrset in r.answer for rr in rrset)

    async def wait_for(server, name, want, limit=5.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await answer(server, name) == want:
                return True
            await asyncio.sleep(0.05)
        return False

    async def main():
        async with Endpoint() as ea, Endpoint() as eb, DNSServer(zone, port=0) as server:
            probes = [Probe(a, "HTTP", "127.0.0.1", ea.port),
                      Probe(b, "HTTP", "127.0.0.1", eb.port),
                      Probe(a_down, "HTTP", "127.0.0.1", ea.port)]
            async with HealthProber(probes, interval=0.05):
                assert await wait_for(server, "f.example.com", ["192.0.2.20"])
                assert await wait_for(server, "m.example.com", ["192.0.2.31"])
                eb.up = False                                      # b fails: AND fails
                assert await wait_for(server, "f.example.com", ["192.0.2.21"])
                ea.up = False                      # a fails: its inverted check is healthy
                assert await wait_for(server, "m.example.com", ["192.0.2.30"])
                ea.up = eb.up = True
                assert await wait_for(server, "f.example.com", ["192.0.2.20"])
                assert await wait_for(server, "m.example.com", ["192.0.2.31"])
    asyncio.run(main())
