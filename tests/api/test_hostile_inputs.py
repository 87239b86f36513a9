"""Every public method of every kernel class, called with hostile arguments.

The extensions are compiled with ``boundscheck=False`` and ``wraparound=False``
(see CMakeLists.txt), which also turns off Cython's checks on Python-object
indexing. This test drives the public surface with out-of-range, negative,
wrong-typed, empty and non-finite arguments and requires each call either to
work or to raise one of the documented error types; a missing check shows up
here as an interpreter crash (pytest's faulthandler names the call) or as a
stray exception type.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import lbcore

# What a rejected call may raise. MemoryError is allowed only as numpy raises it:
# asking for an output batch larger than memory (e.g. pick_many(10**12)).
REJECT = (TypeError, ValueError, IndexError, KeyError, OverflowError, MemoryError)

HOSTILE = (
    -1, -2, -(2**63), 2**63, 2**64, 10**12, 0, 1, 3,
    1.5, math.nan, math.inf, -math.inf,
    None, "x", b"\x00", object(),
    [], [-1], [2**40], (),
    np.array([], dtype=np.int64), np.array([-1], dtype=np.int64),
    np.array([2**62], dtype=np.uint64), np.array([math.nan]),
    np.zeros((2, 2), dtype=np.int32),
)

TARGETS = ["a", "b", "c"]


def _flow():
    return lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 1234, 80, seq=7)


def _flows():
    return lbcore.Flows.random(4, seed=1) if hasattr(lbcore.Flows, "random") else None


FACTORIES = {
    "FlowTable": lambda: lbcore.FlowTable(8),
    "Geoproximity": lambda: lbcore.Geoproximity([0.0, 10.0], [0.0, 20.0], [0, 5]),
    "JumpHash": lambda: lbcore.JumpHash(TARGETS),
    "LeastOutstanding": lambda: lbcore.LeastOutstanding(TARGETS, weights=[1, 2, 3]),
    "Maglev": lambda: lbcore.Maglev(TARGETS, table_size=307),
    "PowerOfTwoChoices": lambda: lbcore.PowerOfTwoChoices(TARGETS),
    "PrefixTable": lambda: lbcore.PrefixTable(["10.0.0.0/8", "2001:db8::/32"], [1, 2]),
    "Random": lambda: lbcore.Random(1),
    "RecordPicker": lambda: lbcore.RecordPicker(1),
    "Rendezvous": lambda: lbcore.Rendezvous(TARGETS, weights=[1, 2, 3]),
    "RoundRobin": lambda: lbcore.RoundRobin(TARGETS, weights=[1, 2, 3]),
    "TokenBuckets": lambda: lbcore.TokenBuckets(4, rate=10.0, burst=5.0),
    "WeightedRandom": lambda: lbcore.WeightedRandom(TARGETS, [1, 2, 3]),
}


def _methods(obj):
    for name in sorted(dir(obj)):
        if name.startswith("_"):
            continue
        attr = getattr(obj, name, None)
        if callable(attr) and not isinstance(attr, type):
            yield name


def _call(fn, args):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(*args)
    except REJECT:
        pass


@pytest.mark.parametrize("cls", sorted(FACTORIES))
def test_one_hostile_argument(cls):
    for name in _methods(FACTORIES[cls]()):
        for value in HOSTILE:
            obj = FACTORIES[cls]()          # fresh: an accepted call may change state
            _call(getattr(obj, name), (value,))


@pytest.mark.parametrize("cls", sorted(FACTORIES))
def test_two_hostile_arguments(cls):
    # Pairs from a smaller set keep the run short; the second argument is where
    # times, weights and values go.
    small = (-1, 2**64, 10**12, 1, math.nan, -math.inf, None, "x", [-1],
             np.array([], dtype=np.int64), np.array([-1], dtype=np.int64))
    for name in _methods(FACTORIES[cls]()):
        obj = FACTORIES[cls]()
        for a, b in itertools.product(small, repeat=2):
            _call(getattr(obj, name), (a, b))


@pytest.mark.parametrize("cls", sorted(FACTORIES))
def test_hostile_values_with_a_valid_flow_or_target(cls):
    obj = FACTORIES[cls]()
    valid_first = (_flow(), "a", 0)
    for name in _methods(obj):
        for first, value in itertools.product(valid_first, HOSTILE):
            _call(getattr(obj, name), (first, value))


def test_objects_still_work_after_the_barrage():
    # Rejected calls must not leave half-applied state behind.
    for cls, make in FACTORIES.items():
        obj = make()
        for name in _methods(obj):
            for value in (-1, 2**64, math.nan, None):
                _call(getattr(obj, name), (value,))
                _call(getattr(obj, name), ("a", value))
        if hasattr(obj, "select"):
            assert obj.select(_flow()) in TARGETS, cls
        if hasattr(obj, "acquire"):
            assert obj.acquire() in TARGETS, cls
        if hasattr(obj, "pick"):
            assert obj.pick(0.0) in TARGETS, cls


CONSTRUCTORS = {
    "Flow": (lambda v: lbcore.Flow("tcp", v, "10.0.0.2", 1, 2),
             lambda v: lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", v, 2),
             lambda v: lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 1, 2, seq=v),
             lambda v: lbcore.Flow(v, "10.0.0.1", "10.0.0.2", 1, 2)),
    "FlowTable": (lambda v: lbcore.FlowTable(v), lambda v: lbcore.FlowTable(8, idle_timeout=v)),
    "Geoproximity": (lambda v: lbcore.Geoproximity(v, [0.0]),
                     lambda v: lbcore.Geoproximity([0.0], [0.0], v)),
    "JumpHash": (lambda v: lbcore.JumpHash(v), lambda v: lbcore.JumpHash(TARGETS, fields=v),
                 lambda v: lbcore.JumpHash(TARGETS, flow_seed=v)),
    "LeastOutstanding": (lambda v: lbcore.LeastOutstanding(v),
                         lambda v: lbcore.LeastOutstanding(TARGETS, weights=v),
                         lambda v: lbcore.LeastOutstanding(TARGETS, slow_start_seconds=v)),
    "Maglev": (lambda v: lbcore.Maglev(v), lambda v: lbcore.Maglev(TARGETS, weights=v),
               lambda v: lbcore.Maglev(TARGETS, table_size=v)),
    "PowerOfTwoChoices": (lambda v: lbcore.PowerOfTwoChoices(v),
                          lambda v: lbcore.PowerOfTwoChoices(TARGETS, seed=v)),
    "PrefixTable": (lambda v: lbcore.PrefixTable(v), lambda v: lbcore.PrefixTable(["1.0.0.0/8"], v),
                    lambda v: lbcore.PrefixTable(["1.0.0.0/8"], [1], default=v)),
    "Random": (lambda v: lbcore.Random(v),),
    "RecordPicker": (lambda v: lbcore.RecordPicker(v),),
    "Rendezvous": (lambda v: lbcore.Rendezvous(v), lambda v: lbcore.Rendezvous(TARGETS, weights=v)),
    "RoundRobin": (lambda v: lbcore.RoundRobin(v), lambda v: lbcore.RoundRobin(TARGETS, weights=v)),
    "TokenBuckets": (lambda v: lbcore.TokenBuckets(v, rate=1.0, burst=1.0),
                     lambda v: lbcore.TokenBuckets(2, rate=v, burst=1.0),
                     lambda v: lbcore.TokenBuckets(2, rate=1.0, burst=v)),
    "WeightedRandom": (lambda v: lbcore.WeightedRandom(v, [1]),
                       lambda v: lbcore.WeightedRandom(TARGETS, v)),
}


@pytest.mark.parametrize("cls", sorted(CONSTRUCTORS))
def test_constructors_reject_hostile_arguments(cls):
    for make, value in itertools.product(CONSTRUCTORS[cls], HOSTILE):
        _call(make, (value,))
