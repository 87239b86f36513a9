"""The ``lbcore`` command line."""
from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbcore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="hash random flows and show their spread")
    demo.add_argument("--flows", type=_positive_int, default=1_000_000)
    demo.add_argument("--targets", type=_positive_int, default=16)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
