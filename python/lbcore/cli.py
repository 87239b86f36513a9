"""The lbcore command line: run traffic scenarios, check scenario files, time the kernels.

Exit status: 0 success, 2 a user error (bad arguments, an unreadable or invalid scenario:
every problem is listed on stderr, one line each), 1 an internal error (a bug: please report
the traceback). Warnings (values implausible as seconds, events after the run ends) go to
stderr and do not change the exit status. A closed stdout (lbcore ... | head) ends the
command quietly with status 141, as a process stopped by SIGPIPE.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _demo(args) -> int:
    """Hash a batch of random flows and show how evenly they spread."""
    import lbcore

    flows = lbcore.Flows.random(args.flows, seed=args.seed, ipv6_fraction=0.25)
    start = time.perf_counter()
    hashes = lbcore.flow_hash(flows)
    elapsed = time.perf_counter() - start
    buckets = np.bincount((hashes % np.uint64(args.targets)).astype(np.int64),
                          minlength=args.targets)
    print(f"lbcore {lbcore.__version__}: {len(flows):,} flows "
          f"({int(flows.is_ipv6.sum()):,} IPv6) hashed in {elapsed * 1e3:.1f} ms "
          f"({len(flows) / elapsed / 1e6:.0f} M flows/s)")
    print(f"spread over {args.targets} targets: min {buckets.min():,} max {buckets.max():,} "
          f"(max/mean {buckets.max() / buckets.mean():.4f})")
    first = flows[0]
    print(f"e.g. {first!r} -> hash {lbcore.flow_hash(first):#018x}, "
          f"symmetric {lbcore.flow_hash(first, symmetric=True):#018x} "
          f"== reverse {lbcore.flow_hash(first.reversed(), symmetric=True):#018x}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fail(lines) -> int:
    """A user error: message on stderr, exit status 2, no traceback."""
    for line in str(lines).splitlines():
        print(f"lbcore: error: {line}", file=sys.stderr)
    return 2


def _warn(scenario: dict, requests: int | None = None) -> None:
    """The scenario's unit-sanity warnings on stderr, one line each (exit status unchanged)."""
    from lbcore.sim.scenario import scenario_warnings
    for path, msg in scenario_warnings(scenario, requests=requests):
        print(f"lbcore: warning: {scenario['source']}: {path}: {msg}", file=sys.stderr)


def _simulate(args) -> int:
    from lbcore.sim import ScenarioError, load_scenario, simulate
    from lbcore.sim.report import format_report, plot_report

    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return _fail("--plot needs matplotlib, which is not installed; "
                         "install it with: pip install 'lbcore[plot]'")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return _fail(exc)
    total = args.requests or scenario["simulation"]["requests"]
    _warn(scenario, total)
    from lbcore.sim.progress import progress_bar
    progress, close_progress = progress_bar(sys.stderr, enabled=not args.quiet)
    try:
        report = simulate(scenario, requests=total, seed=args.seed, progress=progress,
                          trace=args.trace)
    except OSError as exc:
        return _fail(f"{args.trace}: cannot write the trace: {exc.strerror or exc}")
    finally:
        close_progress()
    if args.json is not None:
        import json
        text = json.dumps(report, indent=1)
        if args.json == "-":
            print(text)
        else:
            try:
                with open(args.json, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
            except OSError as exc:
                return _fail(f"{args.json}: cannot write the JSON report: {exc.strerror}")
    if args.plot is not None:
        try:
            plot_report(report, args.plot)
        except OSError as exc:
            return _fail(f"{args.plot}: cannot write the plot: {exc.strerror}")
    if args.json != "-":
        print(format_report(report))
    return 0


def _replay(args) -> int:
    from lbcore.sim.replay import FIELDS, read_trace, replay
    check = FIELDS if args.check is None else tuple(f.strip() for f in args.check.split(","))
    unknown = [f for f in check if f not in FIELDS]
    if unknown:
        return _fail(f"--check: unknown fields {', '.join(unknown)}; expected some of "
                     f"{', '.join(FIELDS)}")
    try:
        columns, scenario, seed = read_trace(args.trace)
    except ValueError as exc:
        return _fail(exc)
    from lbcore.sim.progress import progress_bar
    progress, close_progress = progress_bar(sys.stderr, enabled=not args.quiet)
    try:
        result = replay(columns, scenario, seed, check=check, progress=progress)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        # a trace written by simulate --trace replays; anything else is not such a file
        return _fail(f"{args.trace}: not a trace lbcore simulate wrote "
                     f"({type(exc).__name__}: {exc})")
    finally:
        close_progress()
    what = ", ".join(check)
    if result.uncompared and "target" in check:
        print(f"{args.trace}: {result.uncompared:,} targets not compared: their group "
              "uses lbcore's power_of_two_choices or per-target weights, which an ALB does "
              "not have", file=sys.stderr)
    if result.ok:
        print(f"{args.trace}: {result.requests:,} requests replayed through lbcore's objects; "
              f"no difference in {what}")
        return 0
    print(f"{args.trace}: first difference ({what} compared): {result.difference}")
    return 1


def _validate(args) -> int:
    from lbcore.sim import ScenarioError, load_scenario
    from lbcore.sim.model import compile_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return _fail(exc)
    _warn(scenario)
    model, meta = compile_scenario(scenario, requests=1)
    print(f"{scenario['source']}: OK: {len(meta['clients'])} client classes, "
          f"{len(meta['templates'])} request templates, {len(meta['records'])} DNS records, "
          f"{len(meta['load_balancers'])} load balancers, {len(meta['target_groups'])} target "
          f"groups ({len(meta['targets'])} targets), {len(meta['limits'])} limits, "
          f"{len(meta['events'])} events ({model['E']} epochs)")
    return 0


def _bench(args) -> int:
    from lbcore.bench import run_bench
    return run_bench(quick=args.quick)


def _sweep(args) -> int:
    """``lbcore sweep``: run scenario variants (and seeds) as Dask tasks, print one table."""
    try:
        from lbcore.dask import SWEEP_FIELDS, parse_vary, sweep
        import dask  # noqa: F401
    except ImportError:
        return _fail("sweep needs dask, which is not installed; install it with: "
                     "pip install 'lbcore[dask]'")
    from lbcore.sim import ScenarioError

    try:
        vary = [parse_vary(v) for v in args.vary]
        rows = sweep(args.scenario, vary, seeds=args.seeds, requests=args.requests,
                     scheduler=args.scheduler)
    except ScenarioError as exc:
        return _fail(exc)
    except ValueError as exc:
        return _fail(exc)
    except (OSError, TimeoutError) as exc:
        return _fail(f"--scheduler {args.scheduler}: cannot reach the scheduler: {exc}")
    fields = ["variant", *(k for k, _ in vary), *SWEEP_FIELDS]
    if args.format == "json":
        import json
        text = json.dumps(rows, indent=1) + "\n"
    else:
        import csv
        import io
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            return _fail(f"{args.output}: cannot write the table: {exc.strerror}")
    return 0


def _seed(text: str) -> int:
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**64), got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**64), got {text!r}")
    return value


def cmd_dns(args) -> int:
    """``lbcore dns ZONE.json``: serve a hosted zone over UDP and TCP until SIGINT/SIGTERM.

    ZONE.json: a ``list_resource_record_sets`` response (``ResourceRecordSets``), with
    optional ``HealthChecks`` (``get_health_check`` items) and ``CidrCollections``
    (``{CollectionId: [{"CidrBlock", "LocationName"}, ...]}``); ``--locations`` a JSON
    ``{cidr: {"country": ..., "latitude": ...}}`` table for locating clients; ``--probe``
    runs the health checks for real (docs/dns.md).
    """
    import asyncio
    import json
    import signal

    def fail(msg: str) -> int:
        print(f"lbcore: error: {msg}", file=sys.stderr)
        return 2

    try:
        from lbcore.dns import CidrLocator, DNSServer, HealthProber, Probe
    except ImportError as exc:
        return fail(str(exc))
    from lbcore.route53 import HostedZone

    def load(path: str):
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except OSError as exc:
            raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON: {exc}") from None

    try:
        doc = load(args.zone)
        if not isinstance(doc, dict) or "ResourceRecordSets" not in doc:
            raise ValueError(f"{args.zone}: expected a list_resource_record_sets response "
                             f"(an object with ResourceRecordSets)")
        zone = HostedZone.from_aws(doc["ResourceRecordSets"],
                                   health_checks=doc.get("HealthChecks"),
                                   cidr_collections=doc.get("CidrCollections"),
                                   seed=args.seed)
        locator = CidrLocator(load(args.locations)) if args.locations else None
        server = DNSServer(zone, host=args.address, port=args.port, locator=locator)
        probes = []
        if args.probe:                     # HTTP(S) / HTTP(S)_STR_MATCH / TCP checks with an IP
            for item in doc.get("HealthChecks") or ():
                cfg = item.get("HealthCheckConfig", {})
                if cfg.get("Type") in ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH",
                                       "TCP"):
                    probes.append(Probe.from_aws(zone.health_checks[item["Id"]], cfg))
        prober = HealthProber(probes, clock=zone.clock)
    except (TypeError, ValueError) as exc:
        return fail(str(exc))

    async def serve() -> None:
        await server.start()
        await prober.start()
        host, port = server.address
        probing = f", probing {len(probes)} health checks" if probes else ""
        print(f"lbcore dns: serving {zone.name} on {host} port {port} (UDP and TCP)"
              f"{probing}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await prober.stop()
            await server.stop()
        print("lbcore dns: stopped", flush=True)

    try:
        asyncio.run(serve())
    except OSError as exc:
        return fail(f"cannot listen on {args.address} port {args.port}: {exc.strerror}")
    return 0


def cmd_proxy(args) -> int:
    """``lbcore proxy CONFIG.json``: a local Application Load Balancer until SIGINT/SIGTERM.

    CONFIG.json: AWS describe outputs (LoadBalancers, Listeners, Rules, TargetGroups,
    TargetHealthDescriptions; docs/http.md) with ip targets on local addresses. Every
    request is routed by lbcore.elb.ApplicationLoadBalancer and proxied with aiohttp, the
    health checks run for real, one ALB access-log line per request goes to stdout.
    """
    import asyncio
    import signal

    def fail(msg: str) -> int:
        print(f"lbcore: error: {msg}", file=sys.stderr)
        return 2

    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return fail("lbcore proxy needs aiohttp, which is not installed; install it with: "
                    "pip install 'lbcore[http]'")
    from lbcore.http import EXAMPLE_CONFIG, Proxy, load_config, load_config_file
    from lbcore.http.backend import start_backends

    path = args.config
    if path is None:
        if not args.example_backends:
            return fail("give CONFIG.json, or --example-backends for the shipped example")
        path = EXAMPLE_CONFIG
    try:
        config = load_config(load_config_file(path), seed=args.seed)
        proxy = Proxy(config, host=args.address, port_offset=args.port_offset,
                      health_interval=args.health_interval, router=args.router,
                      log=None if args.no_access_log else sys.stdout)
    except (TypeError, ValueError) as exc:
        return fail(str(exc))
    for w in config.warnings:
        print(f"lbcore: warning: {w}", file=sys.stderr)

    async def serve() -> None:
        backends = []
        if args.example_backends:
            backends = await start_backends(p for _, p in config.target_addresses())
            print(f"lbcore proxy: example backends on "
                  f"{', '.join(f'{h}:{p}' for h, p in config.target_addresses())}",
                  file=sys.stderr, flush=True)
        try:
            await proxy.start()
            for lst, (host, port) in zip(config.listeners, proxy.addresses):
                print(f"lbcore proxy: listener {lst.protocol}:{lst.port} on http://{host}:{port}",
                      file=sys.stderr, flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await proxy.stop()
            for b in backends:
                await b.cleanup()
        print("lbcore proxy: stopped", file=sys.stderr, flush=True)

    try:
        asyncio.run(serve())
    except OSError as exc:
        return fail(f"cannot listen: {exc.strerror or exc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lbcore import __version__

    plain = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="lbcore", description=__doc__, formatter_class=plain)
    parser.add_argument("--version", action="version", version=f"lbcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="hash random flows and show their spread",
                          formatter_class=plain,
                          description="Hash a batch of random flows and show how evenly "
                                      "they spread over targets.")
    demo.add_argument("--flows", type=_positive_int, default=1_000_000)
    demo.add_argument("--targets", type=_positive_int, default=16)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)

    sim = sub.add_parser(
        "simulate", help="run a traffic scenario (default: the one shipped with lbcore)",
        formatter_class=plain,
        description="Simulate a scenario: Route 53 answers, load balancer rules, throttling,\n"
                    "target selection and service, events; print a report.\n\n"
                    "Exit status: 0 done, 2 the scenario or an argument is invalid (every\n"
                    "problem listed on stderr). Warnings go to stderr.")
    sim.add_argument("scenario", nargs="?", default=None,
                     help="scenario TOML file (default: lbcore's two-Region web application)")
    sim.add_argument("--requests", type=_positive_int, default=None,
                     help="number of requests (default: the scenario's simulation.requests)")
    sim.add_argument("--seed", type=_seed, default=None,
                     help="random seed (default: the scenario's simulation.seed)")
    sim.add_argument("--json", metavar="OUT", default=None,
                     help="also write the report as JSON to OUT ('-' = stdout, instead of text)")
    sim.add_argument("--plot", metavar="OUT.png", default=None,
                     help="draw load per target over time with the events (needs matplotlib)")
    sim.add_argument("--trace", metavar="FILE.npz", default=None,
                     help="write every request's events to FILE.npz (for lbcore replay)")
    sim.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sim.set_defaults(func=_simulate)

    rep = sub.add_parser(
        "replay", help="feed a simulate --trace file through lbcore's policy objects",
        formatter_class=plain,
        description="Replay a trace: rebuild the scenario's objects (HostedZone,\n"
                    "ApplicationLoadBalancer, NetworkLoadBalancer, GatewayLoadBalancer, the\n"
                    "throttling buckets), feed them the trace's requests in time order one\n"
                    "call at a time, and report the first decision that differs.\n\n"
                    "Exit status: 0 no difference, 1 a difference (printed), 2 the file or an\n"
                    "argument is invalid.")
    rep.add_argument("trace", metavar="FILE.npz", help="a file written by simulate --trace")
    rep.add_argument("--check", metavar="FIELDS", default=None,
                     help="comma-separated fields to compare (default all: "
                          "record,limit,inspected_by,rule,target_group,target,flow_target)")
    rep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    rep.set_defaults(func=_replay)

    val = sub.add_parser(
        "validate", help="check a scenario file and list every problem",
        formatter_class=plain,
        description="Check a scenario file without running it: every problem on stderr, one\n"
                    "line each with its key path (exit status 2), then the warnings\n"
                    "(exit status unchanged). With no file: the scenario shipped with lbcore.")
    val.add_argument("scenario", nargs="?", default=None,
                     help="scenario TOML file (default: lbcore's two-Region web application)")
    val.set_defaults(func=_validate)

    bench = sub.add_parser(
        "bench", help="time lbcore's kernels against installed peers",
        formatter_class=plain,
        description="Time every kernel family against the installed peer libraries (or the\n"
                    "strongest numpy/stdlib baseline where no peer implements it) and print\n"
                    "ns per item with the ratio peer / lbcore. Peers that are not installed\n"
                    "are listed as such.")
    bench.add_argument("--quick", action="store_true",
                       help="smaller batches and fewer repeats (a few seconds)")
    bench.set_defaults(func=_bench)

    dns = sub.add_parser(
        "dns", help="serve a Route 53 hosted zone as an authoritative DNS server",
        formatter_class=plain,
        description="Answer DNS queries over UDP and TCP from a hosted zone loaded from\n"
                    "ZONE.json (a list_resource_record_sets response; docs/dns.md).\n"
                    "Stops on SIGINT/SIGTERM.")
    dns.add_argument("zone", metavar="ZONE.json")
    dns.add_argument("--address", default="127.0.0.1", help="IP address (default 127.0.0.1)")
    dns.add_argument("--port", type=int, default=8053,
                     help="UDP and TCP port (default 8053; 0 = any free port)")
    dns.add_argument("--locations", metavar="LOC.json", default=None,
                     help="CIDR -> client location table for ECS/geolocation/latency")
    dns.add_argument("--seed", type=_seed, default=0, help="seed of the zone's random answers")
    dns.add_argument("--probe", action="store_true",
                     help="run the HTTP, HTTP_STR_MATCH and TCP health checks of ZONE.json "
                          "for real (IPAddress, Port, ResourcePath, RequestInterval)")
    dns.set_defaults(func=cmd_dns)

    proxy = sub.add_parser(
        "proxy", help="run a local Application Load Balancer from AWS describe outputs",
        formatter_class=plain,
        description="Serve the listeners of CONFIG.json (LoadBalancers, Listeners, Rules,\n"
                    "TargetGroups, TargetHealthDescriptions as the AWS describe calls return\n"
                    "them; docs/http.md): route with lbcore's ALB, proxy to the ip targets, run\n"
                    "the health checks, log one ALB access-log line per request to stdout.\n"
                    "Stops on SIGINT/SIGTERM.")
    proxy.add_argument("config", metavar="CONFIG.json", nargs="?", default=None,
                       help="the describe outputs (default with --example-backends: the "
                            "shipped example)")
    proxy.add_argument("--port-offset", type=int, default=0,
                       help="listen on each listener's port + N (rules still see the "
                            "listener's port)")
    proxy.add_argument("--address", default="127.0.0.1", help="IP address (default 127.0.0.1)")
    proxy.add_argument("--example-backends", action="store_true",
                       help="also serve every target of CONFIG with a small example backend")
    proxy.add_argument("--health-interval", type=float, default=None, metavar="SECONDS",
                       help="seconds between health checks instead of each target group's "
                            "HealthCheckIntervalSeconds")
    proxy.add_argument("--seed", type=_seed, default=0, help="seed of the ALB's random choices")
    proxy.add_argument("--no-access-log", action="store_true", help="write no access log")
    proxy.add_argument("--router", choices=("alb", "cycle"), default="alb",
                       help="cycle: every request to the next target of the first target "
                            "group (itertools.cycle; a benchmark baseline)")
    proxy.set_defaults(func=cmd_proxy)
    sweep = sub.add_parser(
        "sweep", help="run scenario variants and seeds as Dask tasks, gather one table",
        formatter_class=plain,
        description="Simulate every combination of the --vary values (each with --seeds\n"
                    "seeds) as a Dask task and print one row per variant, seed and target\n"
                    "group: requests, outcomes, latency percentiles (CSV or JSON). KEY is a\n"
                    "dotted path in the scenario (list items by index or name). Needs the\n"
                    "dask extra. Exit status 2: a bad key or value (one line each).")
    sweep.add_argument("scenario", nargs="?", default=None,
                       help="scenario TOML file (default: lbcore's two-Region web application)")
    sweep.add_argument("--vary", action="append", required=True, metavar="KEY=V1,V2,...",
                       help="a scenario key and its values (repeat for a grid)")
    sweep.add_argument("--seeds", type=_positive_int, default=1,
                       help="seeds per variant: its simulation.seed and the next ones")
    sweep.add_argument("--requests", type=_positive_int, default=None,
                       help="requests per run (default: each variant's simulation.requests)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="a dask.distributed scheduler address, e.g. tcp://10.0.0.5:8786 "
                            "(default: dask's local threaded scheduler)")
    sweep.add_argument("--format", choices=("csv", "json"), default="csv")
    sweep.add_argument("-o", "--output", metavar="FILE", default=None,
                       help="write the table to FILE (default: stdout)")
    sweep.set_defaults(func=_sweep)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (lbcore ... | head): no traceback, and no second error when
        # the interpreter flushes stdout at exit; the status a shell shows for SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    return code


if __name__ == "__main__":
    sys.exit(main())
