"""A user script over lbcore's compiled kernel classes, checked with ``mypy --strict`` by
test_typing_policies.py (never run): the .pyi stubs give real types, not Any."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import lbcore
from lbcore import (Flow, Flows, FlowTable, Geoproximity, JumpHash, Maglev, PrefixTable,
                    Random, Rendezvous, TokenBuckets)


def consistent(flows: Flows, flow: Flow) -> int:
    mg = Maglev(["a", "b", "c"], table_size=251, seed=1)
    assert_type(mg.select_index(flow), int)
    assert_type(mg.select_many(flows), NDArray[np.int32])
    assert_type(JumpHash(["a", "b"]).select_index(7), int)
    assert_type(Rendezvous(["a", "b"]).select_many(flows), NDArray[np.int32])
    assert_type(lbcore.hash_key(b"x"), int)
    assert_type(lbcore.is_prime(251), bool)
    return mg.select_index(flow)


def throttle(now: float) -> bool:
    tb = TokenBuckets(8, rate=5, burst=10)
    assert_type(tb.check(0, now), bool)
    assert_type(tb.check_many(np.zeros(3, np.int32), np.full(3, now)), NDArray[np.bool_])
    assert_type(len(tb), int)
    qs = lbcore.Quotas()
    table, kq, kinds = np.zeros((1, 1), np.int32), np.full(1, -1, np.int32), np.zeros(3, np.int32)
    times = np.full(3, now)
    assert_type(lbcore.check_kinds(tb, qs, table, kq, kinds, times), NDArray[np.int8])
    assert_type(lbcore.check_kinds(tb, qs, table, kq, kinds, times, retry_after=True),
                tuple[NDArray[np.int8], NDArray[np.float64]])
    return tb.check(1, now, 2)


def lookups(addresses: list[str]) -> NDArray[np.int32]:
    t = PrefixTable(["10.0.0.0/8", "2001:db8::/32"])
    assert_type(t.lookup("10.1.2.3"), int)
    assert_type(t.lookup(0x0A010203, version=4), int)
    return t.lookup_many(addresses)


def tracking(flows: Flows, now: float) -> int:
    ft = FlowTable(1024, idle_timeout={"tcp": 350.0})
    assert_type(ft.expire(now), int)
    assert_type(ft.capacity, int)
    g = Geoproximity([0.0, 10.0], [0.0, 10.0])
    assert_type(g.nearest(1.0, 1.0), int)
    r = Random(3)
    assert_type(r.uniform(), float)
    f = Flow("tcp", "10.0.0.1", "10.0.0.2", 1234, 80)
    assert_type(f.protocol, int)
    assert_type(f.src_port, int)
    return ft.forget_target(2)
