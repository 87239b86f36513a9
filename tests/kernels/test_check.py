"""lbcore._check: the boundary checks written once, in C. Every check names its
parameter; NaN / infinity / bool / str are rejected with ValueError / TypeError."""
import math

import numpy as np
import pytest

from lbcore import _check

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("value", [0.0, 1.5, -3.0, 7, np.float64(2.5), np.float32(0.5),
                                   np.int32(9), 2**80])
def test_check_time_accepts_real_numbers(value):
    assert _check.check_time(value) == float(value)


@pytest.mark.parametrize("value, exc, shown", [
    (NAN, ValueError, "nan"), (INF, ValueError, "inf"), (-INF, ValueError, "-inf"),
    (True, TypeError, "bool"), (np.bool_(False), TypeError, "bool"), ("1", TypeError, "str"),
    (None, ValueError, "required"), ([0.0], TypeError, "list"), (1j, TypeError, "complex"),
    (10**400, ValueError, "1000"), (np.float64("nan"), ValueError, "nan")])
def test_check_time_rejects(value, exc, shown):
    with pytest.raises(exc, match=r"^when ") as e:
        _check.check_time(value, "when")
    assert shown in str(e.value)
    if value is not None:
        assert "must be a finite number of seconds, got" in str(e.value)


def test_check_time_message_style():
    with pytest.raises(ValueError) as e:
        _check.check_time(NAN)
    assert str(e.value) == "now must be a finite number of seconds, got nan"


def test_check_bool():
    assert _check.check_bool(True, "flag") is True
    assert _check.check_bool(np.bool_(False), "flag") is False
    for bad in (1, 0, None, "yes", 1.0):
        with pytest.raises(TypeError, match="^flag must be a bool, got"):
            _check.check_bool(bad, "flag")


def test_check_count():
    assert _check.check_count(0) == 0 and _check.check_count(np.int64(5), "k") == 5
    with pytest.raises(ValueError, match="^k must be a non-negative integer, got -1"):
        _check.check_count(-1, "k")
    for bad in (1.5, True, "3", None, NAN):
        with pytest.raises(TypeError, match="^k must be an integer"):
            _check.check_count(bad, "k")


def test_check_seed():
    assert _check.check_seed(0) == 0 and _check.check_seed(2**64 - 1) == 2**64 - 1
    assert _check.check_seed(np.uint64(7), "s") == 7
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=r"^s must be in \[0, 2\*\*64\)"):
            _check.check_seed(bad, "s")
    for bad in (1.0, True, "1", None, NAN):
        with pytest.raises(TypeError, match="^s must be an integer"):
            _check.check_seed(bad, "s")


def test_check_slow_start():
    assert _check.check_slow_start(0) == 0.0 and _check.check_slow_start(900) == 900.0
    for bad in (29, 901, -1):
        with pytest.raises(ValueError, match="^slow_start_seconds must be 0 .off. or in"):
            _check.check_slow_start(bad)
    for bad in (30.0, True, "30", None):
        with pytest.raises(TypeError, match="^slow_start_seconds must be an integer"):
            _check.check_slow_start(bad)
    with pytest.raises(ValueError, match="slow_start_seconds must be 0 for X"):
        _check.reject_slow_start(30, "X")
    _check.reject_slow_start(0, "X")


def test_check_weight():
    assert _check.check_weight(2, "w", True, False) == 2
    assert isinstance(_check.check_weight(2.0, "w", True, False), int)
    assert _check.check_weight(0, "w", False, True) == 0.0
    cases = [(NAN, ValueError, False), (INF, ValueError, False), (-1, ValueError, False),
             (0, ValueError, True), (2.5, ValueError, True), (2**31, ValueError, True),
             (True, TypeError, False), ("1", TypeError, False), (None, TypeError, False)]
    for bad, exc, integer in cases:
        with pytest.raises(exc, match="^w must be"):
            _check.check_weight(bad, "w", integer, not integer)


def test_check_weight_array():
    out = _check.check_weight_array([1, 2], 2, False, True)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]
    assert _check.check_weight_array([1, 2], 2, True, False).dtype == np.int64
    assert _check.check_weight_array([3, 4, 5], -1, False, True).shape == (3,)
    bad_values = [([1, NAN], 2), ([1, INF], 2), ([1, -1], 2), ([0, 0], 2), ([1], 2),
                  ([[1, 2]], 2), ([1e308, 1e308], 2)]
    for bad, n in bad_values:
        with pytest.raises(ValueError, match="^ws "):
            _check.check_weight_array(bad, n, False, True, "ws")
    for bad in ([True, False], ["1", "2"], "12", {"a": 1}, [None, None]):
        with pytest.raises(TypeError, match="^ws "):
            _check.check_weight_array(bad, 2, False, True, "ws")
    with pytest.raises(ValueError, match="^ws must be positive"):
        _check.check_weight_array([1, 0], 2, True, False, "ws")
    with pytest.raises(ValueError, match="^ws must be integers"):
        _check.check_weight_array([1, 1.5], 2, True, False, "ws")


def test_check_total():
    _check.check_total(np.array([1.0, 2.0]), 3.0)
    with pytest.raises(ValueError, match="^weight would make the sum of weights infinite"):
        _check.check_total(np.array([1e308, 1e308]), 0.0)
    with pytest.raises(ValueError, match="^w would make"):
        _check.check_total(np.array([1e308]), 1e308, "w")


def test_check_targets_and_hashable():
    assert _check.check_targets(("a", 1, (2, 3))) == ["a", 1, (2, 3)]
    with pytest.raises(ValueError, match="^ts must not be empty"):
        _check.check_targets([], "ts")
    with pytest.raises(ValueError, match="^ts must be distinct, 'a' appears twice"):
        _check.check_targets(["a", "a"], "ts")
    with pytest.raises(TypeError, match="^ts must be a sequence of target identities"):
        _check.check_targets("ab", "ts")
    with pytest.raises(TypeError, match="^ts must be an iterable, got int"):
        _check.check_targets(3, "ts")
    with pytest.raises(TypeError, match="^ts must be hashable, got list"):
        _check.check_targets([[1]], "ts")
    with pytest.raises(TypeError, match="^target must be hashable, got dict"):
        _check.check_hashable({})
    _check.check_hashable(math.pi)
