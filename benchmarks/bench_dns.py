"""lbcore.dns benchmarks: what a query costs at each layer.

    python -m pytest benchmarks/bench_dns.py --benchmark-enable -q
    python benchmarks/bench_dns.py        # interleaved: lbcore.dns vs the peer, queries/s

- ``test_resolve``: ``HostedZone.resolve`` per query (the routing decision alone);
- ``test_respond``: ``Responder.respond`` per query, wire bytes in and out, no sockets
  (dnspython's parse + resolve + dnspython's render);
- ``test_server_udp``: round trips through the real ``DNSServer`` on 127.0.0.1 (its event
  loop in a thread of this process, the client a blocking UDP socket in the main thread),
  ``ROUND`` queries per timed call: queries/s = ROUND / time;
- ``test_peer_server_udp``: the same client against the smallest dnspython server that
  answers one fixed A record (asyncio, from_wire / make_response / to_wire): the floor
  any dnspython-based server pays, the baseline for the ratio.

Set-up (zones, servers, query bytes) happens outside the timed region.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import pytest

pytest.importorskip("dns.message")

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.rdata  # noqa: E402
import dns.rrset  # noqa: E402

from lbcore.dns import CidrLocator, DNSServer, Responder  # noqa: E402
from lbcore.route53 import Client, Geolocation, HostedZone, RecordSet  # noqa: E402

Z = "example.com"
ROUND = 500
SUBNET = "198.51.100.0"
LOCATOR = CidrLocator({"198.51.100.0/24": {"continent": "EU", "country": "DE",
                                           "latitude": 50.11, "longitude": 8.68}})


def _zone() -> HostedZone:
    recs = [RecordSet(Z, "SOA", "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 "
                                "900 1209600 86400", ttl=900),
            RecordSet("s." + Z, "A", ["192.0.2.1"], ttl=60)]
    for i in range(5):
        recs.append(RecordSet("w." + Z, "A", [f"10.0.0.{i}"], set_identifier=f"w{i}",
                              weight=10 * (i + 1)))
    for i, g in enumerate([Geolocation(country="US", subdivision="WA"),
                           Geolocation(country="DE"), Geolocation(continent="EU"),
                           Geolocation(country="*")]):
        recs.append(RecordSet("g." + Z, "A", [f"10.3.0.{i}"], set_identifier=f"g{i}",
                              geolocation=g))
    for i, r in enumerate(["us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"]):
        recs.append(RecordSet("l." + Z, "A", [f"10.1.0.{i}"], set_identifier=r, region=r))
    return HostedZone(Z, recs, seed=1)


ZONE = _zone()
CLIENT = LOCATOR(SUBNET)
NOW = 1000.0


def _clock() -> float:
    return NOW


def _query(name: str, ecs: bool) -> bytes:
    opts = [dns.edns.ECSOption(SUBNET, 24)] if ecs else None
    return dns.message.make_query(name, "A", use_edns=0, options=opts).to_wire()


CASES = {"simple": ("s." + Z, False), "weighted": ("w." + Z, False),
         "geolocation_ecs": ("g." + Z, True), "latency_ecs": ("l." + Z, True),
         "nxdomain": ("nope." + Z, False)}


@pytest.mark.parametrize("case", list(CASES))
def test_resolve(benchmark, case):
    name, ecs = CASES[case]
    client = CLIENT if ecs else Client(ip="127.0.0.1")
    benchmark.group = "dns: HostedZone.resolve per query"
    benchmark(ZONE.resolve, name, "A", client, NOW)


@pytest.mark.parametrize("case", list(CASES))
def test_respond(benchmark, case):
    name, ecs = CASES[case]
    responder = Responder(ZONE, clock=_clock, locator=LOCATOR)
    wire = _query(name, ecs)
    assert responder.respond(wire, "127.0.0.1") is not None
    benchmark.group = "dns: Responder.respond per query (no sockets)"
    benchmark(responder.respond, wire, "127.0.0.1")


def _round_trips(addr, wire: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        s.connect(addr)
        for _ in range(ROUND):
            s.send(wire)
            s.recv(4096)


@pytest.mark.parametrize("case", ["simple", "weighted", "geolocation_ecs"])
def test_server_udp(benchmark, case):
    name, ecs = CASES[case]
    server = DNSServer(ZONE, port=0, clock=_clock, locator=LOCATOR)
    wire = _query(name, ecs)
    benchmark.group = f"dns: {ROUND} UDP round trips"
    with server.serve_in_thread():
        benchmark.pedantic(_round_trips, args=(server.address, wire), rounds=10,
                           warmup_rounds=1)


class _FixedAnswer(asyncio.DatagramProtocol):
    """The peer: parse, answer one fixed A record, render (dnspython throughout)."""

    def __init__(self) -> None:
        self.rd = dns.rdata.from_text("IN", "A", "192.0.2.1")

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        rrset = dns.rrset.RRset(q.question[0].name, 1, 1)
        rrset.add(self.rd, 60)
        r.answer.append(rrset)
        self.transport.sendto(r.to_wire(max_size=1232), addr)


@contextlib.contextmanager
def peer_server():
    """The peer on 127.0.0.1 (its loop in a thread); yields its (host, port)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box = {}

    def run():
        asyncio.set_event_loop(loop)
        t, _ = loop.run_until_complete(loop.create_datagram_endpoint(
            _FixedAnswer, local_addr=("127.0.0.1", 0)))
        box["t"] = t
        ready.set()
        loop.run_forever()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    assert ready.wait(10)
    try:
        yield box["t"].get_extra_info("sockname")
    finally:
        loop.call_soon_threadsafe(box["t"].close)
        loop.call_soon_threadsafe(loop.stop)
        th.join(10)
        loop.close()


def test_peer_server_udp(benchmark):
    benchmark.group = f"dns: {ROUND} UDP round trips"
    with peer_server() as addr:
        benchmark.pedantic(_round_trips, args=(addr, _query("s." + Z, False)), rounds=10,
                           warmup_rounds=1)


def main(rounds: int = 15) -> None:
    """Interleaved rounds (peer, then lbcore.dns for each case), median queries/s."""
    import statistics
    cases = ["simple", "weighted", "geolocation_ecs"]
    times: dict[str, list[float]] = {"peer (fixed A)": []}
    times.update({c: [] for c in cases})
    server = DNSServer(ZONE, port=0, clock=_clock, locator=LOCATOR)
    with peer_server() as peer, server.serve_in_thread():
        plain = _query("s." + Z, False)
        wires = {c: _query(*CASES[c]) for c in cases}
        _round_trips(peer, plain)
        _round_trips(server.address, plain)                     # warm-up
        for _ in range(rounds):
            t = time.perf_counter()
            _round_trips(peer, plain)
            times["peer (fixed A)"].append(time.perf_counter() - t)
            for c in cases:
                t = time.perf_counter()
                _round_trips(server.address, wires[c])
                times[c].append(time.perf_counter() - t)
    base = ROUND / statistics.median(times["peer (fixed A)"])
    print(f"{rounds} interleaved rounds of {ROUND} UDP queries, 127.0.0.1, one process")
    for name, ts in times.items():
        qps = ROUND / statistics.median(ts)
        print(f"  {name:18s} {qps:8.0f} queries/s  ({qps / base:.2f}x the peer)")


# ------------------------------------------------------------- one server per process
# ``--processes`` and ``--instructions`` put each server in a process of its own (the
# process model of ``lbcore dns``: one asyncio loop, UDP), the client in this one.
# ``--processes``: queries/s with a window of queries in flight (the server saturated),
# and the server's CPU time per query from /proc (less disturbed by a loaded machine
# than wall time). ``--instructions``: each server under valgrind's callgrind, which
# counts the instructions it executes; N and N + K queries in two runs, so start-up
# cancels: (I(N + K) - I(N)) / K per query. Counts, not seconds: the same on a busy
# machine as on a quiet one, so the ratio to the peer is repeatable.
# name -> (server, query); the peer answers its fixed A record to any name, and is asked
# with the ECS option too (parsing it is part of any ECS-aware server's cost)
SERVERS = {"peer (fixed A)": ("peer", "simple"), "simple": ("lbcore", "simple"),
           "weighted": ("lbcore", "weighted"),
           "peer (fixed A), ECS query": ("peer", "geolocation_ecs"),
           "geolocation_ecs": ("lbcore", "geolocation_ecs")}


def _serve(kind: str, port_file: str) -> None:
    """Serve until SIGTERM; write the UDP port to ``port_file`` once listening."""
    import signal

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if kind == "peer":
            t, _ = await loop.create_datagram_endpoint(_FixedAnswer,
                                                       local_addr=("127.0.0.1", 0))
            port = t.get_extra_info("sockname")[1]
        else:
            server = DNSServer(ZONE, port=0, clock=_clock, locator=LOCATOR)
            await server.start()
            port = server.port
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.replace(port_file + ".tmp", port_file)
        await stop.wait()
        if kind == "peer":
            t.close()
        else:
            await server.stop()

    asyncio.run(run())


@contextlib.contextmanager
def _server_process(kind: str, wrapper: list[str] = ()):
    """Start ``_serve(kind)`` in a child process (under ``wrapper``, e.g. valgrind);
    yield (Popen, (host, port)); SIGTERM and wait for it on exit."""
    import os
    import subprocess
    import sys
    import tempfile
    d = tempfile.mkdtemp(prefix="lbcore-dns-bench-")
    port_file = os.path.join(d, "port")
    proc = subprocess.Popen([*wrapper, sys.executable, os.path.abspath(__file__), "--serve",
                             kind, port_file], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not os.path.exists(port_file):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            yield proc, ("127.0.0.1", int(f.read()))
    finally:
        proc.terminate()
        try:
            proc.wait(600)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for name in os.listdir(d):
            os.remove(os.path.join(d, name))
        os.rmdir(d)


def _blast(addr, wire: bytes, n: int, window: int = 16) -> int:
    """Send ``n`` queries keeping ``window`` in flight; return how many were lost
    (a lost datagram is replaced after a 0.5 s silence)."""
    lost = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.connect(addr)
        sent = 0
        for _ in range(min(window, n)):
            s.send(wire)
            sent += 1
        answered = 0
        while answered < n:
            try:
                s.recv(4096)
            except socket.timeout:
                lost += 1
                s.send(wire)
                continue
            answered += 1
            if sent < n:
                s.send(wire)
                sent += 1
    return lost


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; clock ticks)."""
    import os
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main_processes(rounds: int = 9, queries: int = 4000) -> None:
    """Each server in its own process, interleaved rounds; median queries/s and CPU
    per query."""
    import statistics
    walls: dict[str, list[float]] = {k: [] for k in SERVERS}
    cpus: dict[str, list[float]] = {k: [] for k in SERVERS}
    with contextlib.ExitStack() as stack:
        procs = {k: stack.enter_context(_server_process(kind)) for k, (kind, _) in
                 SERVERS.items()}
        wires = {k: _query(*CASES[case]) for k, (_, case) in SERVERS.items()}
        for k, (proc, addr) in procs.items():
            _blast(addr, wires[k], 500)                       # warm-up
        for _ in range(rounds):
            for k, (proc, addr) in procs.items():
                c0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
                _blast(addr, wires[k], queries)
                walls[k].append(time.perf_counter() - t0)
                cpus[k].append(_cpu_seconds(proc.pid) - c0)
    base_q = queries / statistics.median(walls["peer (fixed A)"])
    base_c = statistics.median(cpus["peer (fixed A)"])
    print(f"{rounds} interleaved rounds of {queries} UDP queries (16 in flight), 127.0.0.1, "
          f"each server its own process")
    for k in SERVERS:
        qps = queries / statistics.median(walls[k])
        cpu = statistics.median(cpus[k])
        print(f"  {k:18s} {qps:8.0f} queries/s ({qps / base_q:.2f}x the peer)   "
              f"server CPU {cpu / queries * 1e6:6.1f} us/query (peer/this "
              f"{base_c / cpu if cpu else float('nan'):.2f}x)")


def _callgrind_total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {path}")


def main_instructions(names=None, base: int = 200, extra: int = 1000) -> None:
    """Instructions per query of each server's process (``names``: of SERVERS, default
    all), under callgrind."""
    import glob
    import os
    import shutil
    import tempfile
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian package valgrind)")
    d = tempfile.mkdtemp(prefix="lbcore-dns-callgrind-")
    per_query = {}
    for k, (kind, case) in SERVERS.items():
        if names and k not in names:
            continue
        totals = []
        for n in (base, base + extra):
            out = os.path.join(d, f"{kind}-{case}-{n}.out")
            with _server_process(kind, ["valgrind", "--tool=callgrind", "-q",
                                        f"--callgrind-out-file={out}"]) as (proc, addr):
                wire = _query(*CASES[case])
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(60)
                    s.connect(addr)
                    for _ in range(n):                        # one at a time: none lost
                        s.send(wire)
                        s.recv(4096)
            totals.append(_callgrind_total(out))
        per_query[k] = (totals[1] - totals[0]) / extra
        print(f"  {k:26s} {per_query[k]:10.0f} instructions/query", flush=True)
    for f in glob.glob(os.path.join(d, "*")):
        os.remove(f)
    os.rmdir(d)
    print(f"instructions per UDP query, each server its own process under callgrind "
          f"({base} and {base + extra} queries; the difference / {extra}):")
    for k, v in per_query.items():
        ratio = ""
        peers = [p for p in ("peer (fixed A), ECS query" if "ecs" in k else "peer (fixed A)",
                             "peer (fixed A)") if p in per_query]
        if peers and not k.startswith("peer"):
            ratio = f"   capacity vs {peers[0]}: {per_query[peers[0]] / v:.2f}x"
        print(f"  {k:26s} {v:10.0f}{ratio}")


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--processes"]:
        main_processes()
    elif sys.argv[1:2] == ["--instructions"]:
        main_instructions(sys.argv[2:])         # optionally: names of SERVERS
    else:
        main()
