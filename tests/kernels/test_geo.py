"""lbcore._geo: distance, Route 53 bias, nearest endpoint — against tests/reference/geo_ref.py,
the Developer Guide's bias example, and through numba."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import Geoproximity, biased_distance, great_circle_km
from lbcore._geo import EARTH_RADIUS_KM
from reference import geo_ref

lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)
biases = st.one_of(st.integers(-99, 99), st.floats(-99, 99, allow_nan=False))
KM_PER_DEG = 2 * math.pi * EARTH_RADIUS_KM / 360


def test_radius_is_mean_earth_radius():
    assert EARTH_RADIUS_KM == 6371.0088


def test_golden_arcs():
    # a quarter of a great circle and half of one
    assert great_circle_km(0, 0, 0, 90) == pytest.approx(math.pi * EARTH_RADIUS_KM / 2, rel=1e-12)
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-12)
    assert great_circle_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-12)
    assert great_circle_km(10, 20, 10, 20) == 0.0
    assert great_circle_km(0, 0, 0, 1) == pytest.approx(KM_PER_DEG, rel=1e-12)
    # London - New York, a commonly quoted ~5,570 km
    assert great_circle_km(51.5074, -0.1278, 40.7128, -74.0060) == pytest.approx(5570, abs=5)


def test_developer_guide_bias_example():
    # Route 53 Developer Guide, "How Amazon Route 53 uses bias to route traffic": server A
    # 150 km away with bias +50 counts as 75 km and wins over server B 100 km away.
    assert biased_distance(150, 50) == 75.0
    assert biased_distance(100, 0) == 100.0
    # negative bias: d / (1 + bias/100)
    assert biased_distance(100, -50) == 200.0
    assert biased_distance(100, -99) == pytest.approx(10000.0)
    a_lon, b_lon = 150 / KM_PER_DEG, -100 / KM_PER_DEG
    unbiased = Geoproximity([0, 0], [a_lon, b_lon])
    assert unbiased.nearest(0, 0) == 1
    biased = Geoproximity([0, 0], [a_lon, b_lon], [50, 0])
    assert biased.nearest(0, 0) == 0
    d = biased.distances(0, 0)[0]
    assert d[0] == pytest.approx(150, rel=1e-9) and d[1] == pytest.approx(100, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(lats, lons, lats, lons)
def test_distance_matches_reference(a, b, c, d):
    k = great_circle_km(a, b, c, d)
    assert k == geo_ref.distance_km(a, b, c, d)
    # within 1 m of the textbook formula (near-antipodal asin is ill-conditioned)
    assert k == pytest.approx(geo_ref.haversine_km(a, b, c, d), rel=1e-9, abs=1e-3)
    assert k == great_circle_km(c, d, a, b) or k == pytest.approx(great_circle_km(c, d, a, b),
                                                                 rel=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 30000, allow_nan=False), biases)
def test_bias_matches_reference(d, b):
    assert biased_distance(d, b) == geo_ref.biased(d, b)


@st.composite
def scenes(draw):
    n = draw(st.integers(1, 12))
    ep = draw(st.lists(st.tuples(lats, lons), min_size=n, max_size=n))
    bs = draw(st.lists(biases, min_size=n, max_size=n))
    elig = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    clients = draw(st.lists(st.tuples(lats, lons), min_size=1, max_size=8))
    return ep, bs, elig, clients


@settings(max_examples=200, deadline=None)
@given(scenes())
def test_nearest_matches_reference_and_batch(scene):
    ep, bs, elig, clients = scene
    g = Geoproximity([e[0] for e in ep], [e[1] for e in ep], bs)
    mask = None if elig is None else bytes(elig)
    scalar = [g.nearest(la, lo, mask) for la, lo in clients]
    assert scalar == [geo_ref.nearest(la, lo, ep, bs, elig) for la, lo in clients]
    batch = g.nearest_many([c[0] for c in clients], [c[1] for c in clients],
                           None if elig is None else np.array(elig, dtype=bool))
    assert batch.tolist() == scalar


def test_ties_go_to_lowest_index():
    g = Geoproximity([10, 10, 10], [20, 20, 20])
    assert g.nearest(0, 0) == 0
    assert g.nearest(0, 0, b"\x00\x01\x01") == 1
    assert g.nearest(0, 0, b"\x00\x00\x00") == -1
    # symmetric endpoints around the client: equal distances, lowest index wins
    g = Geoproximity([0, 0], [5, -5])
    assert g.nearest(0, 0) == 0
    g = Geoproximity([0, 0], [-5, 5])
    assert g.nearest(0, 0) == 0


def test_nearest_many_large_batch_matches_scalar():
    rng = np.random.default_rng(7)
    g = Geoproximity(rng.uniform(-90, 90, 20), rng.uniform(-180, 180, 20),
                     rng.integers(-99, 100, 20))
    la, lo = rng.uniform(-90, 90, 2000), rng.uniform(-180, 180, 2000)
    out = g.nearest_many(la, lo)
    assert out.dtype == np.int32
    assert out.tolist() == [g.nearest(a, b) for a, b in zip(la, lo)]
    assert len(set(out.tolist())) > 1


def test_validation():
    with pytest.raises(ValueError, match="lat1"):
        great_circle_km(91, 0, 0, 0)
    with pytest.raises(ValueError, match="lon2"):
        great_circle_km(0, 0, 0, float("nan"))
    with pytest.raises(TypeError, match="lat1"):
        great_circle_km("1", 0, 0, 0)
    with pytest.raises(ValueError, match="bias"):
        biased_distance(10, 100)
    with pytest.raises(ValueError, match="bias"):
        biased_distance(10, -100)
    with pytest.raises(ValueError, match="distance"):
        biased_distance(-1, 0)
    with pytest.raises(ValueError, match="latitudes"):
        Geoproximity([], [])
    with pytest.raises(ValueError, match="latitudes"):
        Geoproximity([100], [0])
    with pytest.raises(ValueError, match="longitudes"):
        Geoproximity([0, 1], [0])
    with pytest.raises(ValueError, match="biases"):
        Geoproximity([0], [0], [120])
    with pytest.raises(ValueError, match="biases"):
        Geoproximity([0], [0], [1, 2])
    g = Geoproximity([0, 1], [0, 1])
    with pytest.raises(ValueError, match="lat"):
        g.nearest(float("inf"), 0)
    with pytest.raises(ValueError, match="eligible"):
        g.nearest(0, 0, b"\x01")
    with pytest.raises(TypeError, match="eligible"):
        g.nearest(0, 0, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="lats"):
        g.nearest_many([0, 1], [0])
    with pytest.raises(ValueError, match="lons"):
        g.nearest_many([0], [200])
    assert g.nearest_many([], []).shape == (0,)


def test_numba_matches_cython():
    numba = pytest.importorskip("numba")
    import lbcore.numba as lbn

    rng = np.random.default_rng(3)
    n, m = 9, 300
    elat, elon = rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)
    bias = rng.uniform(-99, 99, n)
    elig = (rng.random(n) < 0.7).astype(np.uint8)
    la, lo = rng.uniform(-90, 90, m), rng.uniform(-180, 180, m)
    g = Geoproximity(elat, elon, bias)

    @numba.njit(cache=True)
    def run(la, lo, elat, elon, bias, elig):
        n = elat.shape[0]
        xyz = np.empty(3 * n)
        lbn.geo_unit_many(n, elat.ctypes, elon.ctypes, xyz.ctypes)
        one = np.empty(la.shape[0], dtype=np.int32)
        for i in range(la.shape[0]):
            one[i] = lbn.geo_nearest(la[i], lo[i], n, xyz.ctypes, bias.ctypes, elig.ctypes)
        many = np.empty(la.shape[0], dtype=np.int32)
        lbn.geo_nearest_many(la.shape[0], la.ctypes, lo.ctypes, n, xyz.ctypes, bias.ctypes,
                             elig.ctypes, many.ctypes)
        dist = np.empty(la.shape[0] * n)
        lbn.geo_distance_many(la.shape[0], la.ctypes, lo.ctypes, n, xyz.ctypes, dist.ctypes)
        d0 = lbn.geo_distance(la[0], lo[0], elat[0], elon[0])
        b0 = lbn.geo_biased(d0, bias[0])
        return xyz, one, many, dist, d0, b0

    xyz, one, many, dist, d0, b0 = run(la, lo, elat, elon, bias, elig)
    assert np.array_equal(xyz, g.unit_vectors)
    expect = g.nearest_many(la, lo, elig)
    assert np.array_equal(one, expect) and np.array_equal(many, expect)
    assert np.array_equal(dist.reshape(m, n), g.distances(la, lo))
    assert d0 == great_circle_km(la[0], lo[0], elat[0], elon[0])
    assert b0 == biased_distance(d0, bias[0])


# ------------------------------------------------- the spatial index (more than 16 endpoints)
# Geoproximity answers through a k-d tree over the unit vectors; the answer must be the
# linear scan's exactly (same arithmetic, ties to the lowest index), whatever the layout.

coarse_lats = st.integers(-3, 3).map(float)          # a small grid: many exact ties
coarse_lons = st.integers(-3, 3).map(float)


@st.composite
def big_scenes(draw):
    n = draw(st.integers(17, 120))
    grid = draw(st.booleans())
    la, lo = (coarse_lats, coarse_lons) if grid else (lats, lons)
    ep = draw(st.lists(st.tuples(la, lo), min_size=n, max_size=n))
    bs = draw(st.one_of(st.just([0] * n),
                        st.lists(st.sampled_from([-99, -50, -1, 0, 1, 50, 99]),
                                 min_size=n, max_size=n),
                        st.lists(biases, min_size=n, max_size=n)))
    elig = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    clients = draw(st.lists(st.tuples(la, lo), min_size=1, max_size=6))
    return ep, bs, elig, clients


@settings(max_examples=150, deadline=None)
@given(big_scenes())
def test_indexed_nearest_matches_reference(scene):
    ep, bs, elig, clients = scene
    g = Geoproximity([e[0] for e in ep], [e[1] for e in ep], bs)
    mask = None if elig is None else bytes(elig)
    want = [geo_ref.nearest(la, lo, ep, bs, elig) for la, lo in clients]
    assert [g.nearest(la, lo, mask) for la, lo in clients] == want
    batch = g.nearest_many([c[0] for c in clients], [c[1] for c in clients],
                           None if elig is None else np.array(elig, dtype=bool))
    assert batch.tolist() == want


_SCAN = []


def _linear(g, la, lo, elig):
    """The exported linear-scan kernel (lb_geo_nearest_many), called through numba."""
    if not _SCAN:
        numba = pytest.importorskip("numba")
        import lbcore.numba as lbn

        @numba.njit
        def scan(la, lo, xyz, bias, elig):
            out = np.empty(la.shape[0], dtype=np.int32)
            lbn.geo_nearest_many(la.shape[0], la.ctypes, lo.ctypes, bias.shape[0],
                                 xyz.ctypes, bias.ctypes, elig.ctypes, out.ctypes)
            return out
        _SCAN.append(scan)
    return _SCAN[0](la, lo, g.unit_vectors, g.biases, elig)


@pytest.mark.parametrize("layout", ["uniform", "clustered", "grid", "polar", "antipodal"])
def test_indexed_nearest_equals_the_linear_kernel_at_scale(layout):
    rng = np.random.default_rng(["uniform", "clustered", "grid", "polar",
                                 "antipodal"].index(layout))
    n, m = 2000, 2000
    if layout == "uniform":
        elat, elon = rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)
    elif layout == "clustered":                      # duplicates and near-duplicates
        elat = np.round(rng.normal(48, 1.5, n).clip(-90, 90), 1)
        elon = np.round(rng.normal(9, 1.5, n), 1)
    elif layout == "grid":
        elat = rng.integers(-5, 6, n).astype(float)
        elon = rng.integers(-5, 6, n).astype(float)
    elif layout == "polar":
        elat, elon = rng.uniform(85, 90, n), rng.uniform(-180, 180, n)
    else:                                            # clients on the far side
        elat, elon = rng.uniform(-10, 10, n), rng.uniform(-10, 10, n)
    la = rng.uniform(-90, 90, m)
    lo = rng.uniform(-180, 180, m)
    if layout == "grid":
        la, lo = rng.integers(-6, 7, m).astype(float), rng.integers(-6, 7, m).astype(float)
    if layout == "antipodal":
        la, lo = rng.uniform(-10, 10, m), rng.uniform(170, 180, m)
    for bias in (np.zeros(n), np.round(rng.uniform(-99, 99, n)), rng.uniform(-99, 99, n)):
        g = Geoproximity(elat, elon, bias)
        for elig in (np.ones(n, np.uint8), (rng.random(n) < 0.05).astype(np.uint8),
                     np.zeros(n, np.uint8)):
            got = g.nearest_many(la, lo, elig)
            assert np.array_equal(got, _linear(g, la, lo, elig)), layout
    assert [g.nearest(a, b) for a, b in zip(la[:50], lo[:50])] == \
        g.nearest_many(la[:50], lo[:50]).tolist()


def test_indexed_geoproximity_pickles_and_reinitialises():
    import pickle
    rng = np.random.default_rng(11)
    g = Geoproximity(rng.uniform(-90, 90, 500), rng.uniform(-180, 180, 500),
                     rng.uniform(-99, 99, 500))
    la, lo = rng.uniform(-90, 90, 300), rng.uniform(-180, 180, 300)
    h = pickle.loads(pickle.dumps(g))
    assert np.array_equal(h.nearest_many(la, lo), g.nearest_many(la, lo))
    g.__init__([0.0, 1.0], [0.0, 1.0])               # back to a linear scan
    assert g.nearest(1.0, 1.0) == 1 and len(g) == 2
