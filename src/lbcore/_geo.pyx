# cython: language_level=3
"""Geoproximity kernels (great-circle distance, Route 53 bias, nearest endpoint)
and their Python entry points. The model is described in _geo.pxd."""
cimport cython
from libc.math cimport sin, cos, sqrt, asin, fmax, isfinite, INFINITY
from libc.stdint cimport uint8_t, int32_t, int64_t
from libc.stdlib cimport malloc, free

import numpy as np

cdef double _RAD = 0.017453292519943295         # pi / 180
cdef double _DIAMETER = 2.0 * LB_GEO_EARTH_RADIUS_KM

EARTH_RADIUS_KM = LB_GEO_EARTH_RADIUS_KM


cdef inline void _unit(double lat, double lon, double* x, double* y, double* z) noexcept nogil:
    cdef double phi = lat * _RAD
    cdef double lam = lon * _RAD
    cdef double c = cos(phi)
    x[0] = c * cos(lam)
    y[0] = c * sin(lam)
    z[0] = sin(phi)


cdef inline double _chord_km(double px, double py, double pz,
                             double qx, double qy, double qz) noexcept nogil:
    cdef double dx = px - qx
    cdef double dy = py - qy
    cdef double dz = pz - qz
    cdef double h = sqrt(dx * dx + dy * dy + dz * dz) * 0.5
    if h > 1.0:
        h = 1.0
    return _DIAMETER * asin(h)


cdef inline double _biased(double d, double b) noexcept nogil:
    if b > 0.0:
        return d * (1.0 - b / 100.0)
    if b < 0.0:
        return d / (1.0 + b / 100.0)
    return d


cdef double lb_geo_distance(double lat1, double lon1, double lat2, double lon2) noexcept nogil:
    cdef double px, py, pz, qx, qy, qz
    _unit(lat1, lon1, &px, &py, &pz)
    _unit(lat2, lon2, &qx, &qy, &qz)
    return _chord_km(px, py, pz, qx, qy, qz)


cdef double lb_geo_biased(double distance, double bias) noexcept nogil:
    return _biased(distance, bias)


cdef void lb_geo_unit_many(int64_t n, const double* lat, const double* lon,
                           double* xyz) noexcept nogil:
    cdef int64_t i
    for i in range(n):
        _unit(lat[i], lon[i], &xyz[3 * i], &xyz[3 * i + 1], &xyz[3 * i + 2])


cdef inline int32_t _nearest_xyz(double px, double py, double pz, int64_t n,
                                 const double* exyz, const double* bias,
                                 const uint8_t* eligible) noexcept nogil:
    cdef int64_t j
    cdef int32_t best = -1
    cdef double bestd = INFINITY, d, dx, dy, dz, lb
    for j in range(n):
        if eligible != NULL and eligible[j] == 0:
            continue
        if best >= 0:
            # R * chord bounds the distance from below (asin(h) >= h: see the spatial
            # index below), so an endpoint whose biased bound already loses needs no asin
            # (the bound shrunk by 1e-11 so that no rounding can make it exceed the distance)
            dx = px - exyz[3 * j]
            dy = py - exyz[3 * j + 1]
            dz = pz - exyz[3 * j + 2]
            lb = (LB_GEO_EARTH_RADIUS_KM * (1.0 - 1e-11)) * sqrt(dx * dx + dy * dy + dz * dz)
            if bias != NULL:
                lb = _biased(lb, bias[j])
            if lb > bestd:
                continue
        d = _chord_km(px, py, pz, exyz[3 * j], exyz[3 * j + 1], exyz[3 * j + 2])
        if bias != NULL:
            d = _biased(d, bias[j])
        if best < 0 or d < bestd:
            best = <int32_t>j
            bestd = d
    return best


cdef int32_t lb_geo_nearest(double lat, double lon, int64_t n, const double* exyz,
                            const double* bias, const uint8_t* eligible) noexcept nogil:
    cdef double px, py, pz
    _unit(lat, lon, &px, &py, &pz)
    return _nearest_xyz(px, py, pz, n, exyz, bias, eligible)


cdef void lb_geo_nearest_many(int64_t m, const double* lat, const double* lon,
                              int64_t n, const double* exyz, const double* bias,
                              const uint8_t* eligible, int32_t* out) noexcept nogil:
    cdef int64_t i
    cdef double px, py, pz
    for i in range(m):
        _unit(lat[i], lon[i], &px, &py, &pz)
        out[i] = _nearest_xyz(px, py, pz, n, exyz, bias, eligible)


cdef void lb_geo_distance_many(int64_t m, const double* lat, const double* lon,
                               int64_t n, const double* exyz, double* out) noexcept nogil:
    cdef int64_t i, j
    cdef double px, py, pz
    for i in range(m):
        _unit(lat[i], lon[i], &px, &py, &pz)
        for j in range(n):
            out[i * n + j] = _chord_km(px, py, pz, exyz[3 * j], exyz[3 * j + 1],
                                       exyz[3 * j + 2])


# ---------------------------------------------------------------- spatial index
# A k-d tree over the endpoints' unit vectors (Geoproximity builds one for more than
# _TREE_MIN endpoints): the answer is exactly the linear scan's (lb_geo_nearest), found
# by visiting only the nodes that could hold it. Why that is exact: a great-circle
# distance is never shorter than R times the chord (asin(h) >= h), the bias rule scales
# a distance by a factor f (1 - b/100, or 1 / (1 + b/100)), so R * chord * f bounds an
# endpoint's biased distance from below, and R * (distance to a node's box) * (the
# node's smallest f) bounds every endpoint in the node. The bounds are compared squared
# (no square root) and shrunk by a relative 1e-11, far above the arithmetic's rounding
# (~1e-15), so an endpoint or node is skipped only when it surely loses to the best
# distance found: every endpoint that could be the minimum, or tie with it, is computed
# with the scan's own arithmetic, and ties go to the lowest endpoint index as in the scan.

cdef enum:
    _LEAF = 8           # endpoints per leaf at most
    _TREE_MIN = 16      # more endpoints than this: a tree; else the linear scan
    _STACK = 128        # pending nodes at most (two per level of a balanced tree)
    _TREE_MAX = 1 << 30  # 2n nodes fit int32 node indices; above it: the linear scan

cdef double _SHRINK = 1.0 - 1e-11

ctypedef struct _geo_tree:
    const int32_t* perm         # tree order -> endpoint index
    const double* xyz           # unit vectors in tree order
    const double* bias          # biases in tree order
    const double* scale2        # tree order -> (R f)^2, shrunk: the squared bound's factor
    const int32_t* start        # node -> first position in tree order
    const int32_t* end          # node -> one past its last
    const int32_t* left         # node -> children (-1: a leaf)
    const int32_t* right
    const double* box           # node -> min x, y, z, max x, y, z
    const double* node_scale2   # node -> (R * its smallest f)^2, shrunk


cdef void _select(int32_t* perm, int32_t lo, int32_t hi, int32_t k, const double* xyz,
                  int axis) noexcept nogil:
    """Reorder perm[lo:hi] so that perm[k] holds the element of rank k by coordinate
    ``axis`` (ties by endpoint index: deterministic), smaller ones before it."""
    cdef int32_t i, j, t, pv
    cdef double pc
    while hi - lo > 1:
        pv = perm[(lo + hi) >> 1]
        pc = xyz[3 * pv + axis]
        i = lo
        j = hi - 1
        while i <= j:
            while xyz[3 * perm[i] + axis] < pc or (xyz[3 * perm[i] + axis] == pc
                                                   and perm[i] < pv):
                i += 1
            while xyz[3 * perm[j] + axis] > pc or (xyz[3 * perm[j] + axis] == pc
                                                   and perm[j] > pv):
                j -= 1
            if i <= j:
                t = perm[i]
                perm[i] = perm[j]
                perm[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return


cdef int32_t _build(int32_t* perm, int32_t lo, int32_t hi, const double* xyz,
                    const double* bias, int32_t* start, int32_t* end, int32_t* left,
                    int32_t* right, double* box, double* scale, int32_t* count) noexcept nogil:
    cdef int32_t node = count[0]
    cdef int32_t k, j, mid
    cdef int a, axis
    cdef double f, fmin = INFINITY, v, extent, widest
    count[0] += 1
    start[node] = lo
    end[node] = hi
    for a in range(3):
        box[6 * node + a] = INFINITY
        box[6 * node + 3 + a] = -INFINITY
    for k in range(lo, hi):
        j = perm[k]
        for a in range(3):
            v = xyz[3 * j + a]
            if v < box[6 * node + a]:
                box[6 * node + a] = v
            if v > box[6 * node + 3 + a]:
                box[6 * node + 3 + a] = v
        f = _biased(1.0, bias[j])        # the bias rule's factor
        if f < fmin:
            fmin = f
    scale[node] = (LB_GEO_EARTH_RADIUS_KM * fmin) * (LB_GEO_EARTH_RADIUS_KM * fmin) * _SHRINK
    if hi - lo <= _LEAF:
        left[node] = -1
        right[node] = -1
        return node
    axis = 0
    widest = -1.0
    for a in range(3):
        extent = box[6 * node + 3 + a] - box[6 * node + a]
        if extent > widest:
            widest = extent
            axis = a
    mid = (lo + hi) >> 1
    _select(perm, lo, hi, mid, xyz, axis)
    left[node] = _build(perm, lo, mid, xyz, bias, start, end, left, right, box, scale, count)
    right[node] = _build(perm, mid, hi, xyz, bias, start, end, left, right, box, scale,
                         count)
    return node


cdef inline double _box_bound2(const _geo_tree* t, int32_t node, double px, double py,
                               double pz) noexcept nogil:
    # the squared lower bound of every endpoint's biased distance in ``node``
    cdef const double* b = t.box + 6 * node
    # branch-free (maxsd): the distance to the box along each axis, 0 inside it
    cdef double dx = fmax(fmax(b[0] - px, px - b[3]), 0.0)
    cdef double dy = fmax(fmax(b[1] - py, py - b[4]), 0.0)
    cdef double dz = fmax(fmax(b[2] - pz, pz - b[5]), 0.0)
    return (dx * dx + dy * dy + dz * dz) * t.node_scale2[node]


cdef int32_t _tree_nearest(const _geo_tree* t, double px, double py, double pz,
                           const uint8_t* eligible) noexcept nogil:
    cdef int32_t stack_node[_STACK]
    cdef double stack_bound[_STACK]
    cdef int top
    cdef int32_t node, k, j, near, far, best = -1
    cdef double bn, bf, dx, dy, dz, d, bestd = INFINITY, best2 = INFINITY
    cdef double lb[_LEAF]
    cdef int32_t at[_LEAF]
    cdef int n_leaf, first, i, q
    stack_node[0] = 0
    stack_bound[0] = 0.0
    top = 1
    while top > 0:
        top -= 1
        node = stack_node[top]
        if stack_bound[top] > best2:
            continue
        if t.left[node] < 0:
            # the leaf's endpoints by their bounds: the most promising one computed
            # first, so the others mostly fall to their bound without an asin
            n_leaf = 0
            first = -1
            for k in range(t.start[node], t.end[node]):
                if eligible != NULL and eligible[t.perm[k]] == 0:
                    continue
                dx = px - t.xyz[3 * k]
                dy = py - t.xyz[3 * k + 1]
                dz = pz - t.xyz[3 * k + 2]
                lb[n_leaf] = (dx * dx + dy * dy + dz * dz) * t.scale2[k]
                at[n_leaf] = k
                if first < 0 or lb[n_leaf] < lb[first]:
                    first = n_leaf
                n_leaf += 1
            for i in range(n_leaf):
                q = first if i == 0 else (0 if i == first else i)
                if lb[q] > best2:
                    continue                    # even its lower bound loses
                k = at[q]
                j = t.perm[k]
                d = _biased(_chord_km(px, py, pz, t.xyz[3 * k], t.xyz[3 * k + 1],
                                      t.xyz[3 * k + 2]), t.bias[k])
                if best < 0 or d < bestd or (d == bestd and j < best):
                    best = j
                    bestd = d
                    best2 = d * d
            continue
        near = t.left[node]
        far = t.right[node]
        bn = _box_bound2(t, near, px, py, pz)
        bf = _box_bound2(t, far, px, py, pz)
        if bf < bn:
            near, far = far, near
            bn, bf = bf, bn
        if bf <= best2:                         # the farther one later
            stack_node[top] = far
            stack_bound[top] = bf
            top += 1
        if bn <= best2:
            stack_node[top] = near
            stack_bound[top] = bn
            top += 1
    return best


# ---------------------------------------------------------------- Python API

cdef double _check_coord(object value, str name, double limit) except? -1.0:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    cdef double v = value
    if not isfinite(v) or v < -limit or v > limit:
        raise ValueError(f"{name} must be finite and in [-{limit:g}, {limit:g}], got {value!r}")
    return v


cdef double _check_bias(object value, str name) except? -1000.0:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    cdef double v = value
    if not isfinite(v) or v < -99.0 or v > 99.0:
        raise ValueError(f"{name} must be finite and in [-99, 99], got {value!r}")
    return v


def _coord_array(values, str name, double limit):
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and (not np.isfinite(arr).all() or np.abs(arr).max() > limit):
        raise ValueError(f"{name} must be finite and in [-{limit:g}, {limit:g}]")
    return arr


def great_circle_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km between two points given in degrees.

    Sphere of radius ``EARTH_RADIUS_KM`` (6371.0088 km, the mean Earth radius),
    haversine formula in its chord form (see ``lbcore._geo``'s module notes).
    """
    return lb_geo_distance(_check_coord(lat1, "lat1", 90.0), _check_coord(lon1, "lon1", 180.0),
                           _check_coord(lat2, "lat2", 90.0), _check_coord(lon2, "lon2", 180.0))


def biased_distance(distance, bias):
    """Route 53's biased distance: ``d*(1-bias/100)`` for bias > 0, ``d/(1+bias/100)``
    for bias < 0 (Route 53 Developer Guide, "How Amazon Route 53 uses bias")."""
    if isinstance(distance, (bool, np.bool_)) or not isinstance(
            distance, (int, float, np.integer, np.floating)):
        raise TypeError(f"distance must be a number, got {type(distance).__name__}")
    cdef double d = distance
    if not isfinite(d) or d < 0:
        raise ValueError(f"distance must be finite and >= 0, got {distance!r}")
    return lb_geo_biased(d, _check_bias(bias, "bias"))


@cython.embedsignature(False)
cdef class Geoproximity:
    """Geoproximity(latitudes, longitudes, biases=None)
--

Endpoints at fixed coordinates with Route 53 biases; finds the endpoint with the
    smallest biased great-circle distance to a client (ties: lowest index).

    ``Geoproximity(latitudes, longitudes, biases=None)`` -- degrees; biases in
    [-99, 99] (default 0). ``nearest(lat, lon, eligible=None)`` for one client,
    ``nearest_many(lats, lons, eligible=None)`` for numpy arrays of clients.
    ``eligible``: ``None`` (all endpoints) or a ``bytes``/array of n flags; when
    no endpoint is eligible the answer is -1.
    """
    cdef readonly object latitudes, longitudes, biases, unit_vectors
    cdef const double* _xyz
    cdef const double* _bias
    cdef readonly int64_t n
    cdef object _tree_arrays        # owns the memory _tree points into (None: no tree)
    cdef _geo_tree _tree

    def __init__(self, latitudes, longitudes, biases=None):
        lat = _coord_array(latitudes, "latitudes", 90.0)
        lon = _coord_array(longitudes, "longitudes", 180.0)
        if lat.shape[0] != lon.shape[0]:
            raise ValueError(f"latitudes and longitudes differ in length "
                             f"({lat.shape[0]} != {lon.shape[0]})")
        if lat.shape[0] == 0:
            raise ValueError("latitudes must name at least one endpoint")
        if biases is None:
            b = np.zeros(lat.shape[0], dtype=np.float64)
        else:
            b = _coord_array(biases, "biases", 99.0)
            if b.shape[0] != lat.shape[0]:
                raise ValueError(f"biases has length {b.shape[0]}, expected {lat.shape[0]}")
        xyz = np.empty(3 * lat.shape[0], dtype=np.float64)
        cdef double[::1] xv = xyz
        cdef const double[::1] latv = lat
        cdef const double[::1] lonv = lon
        lb_geo_unit_many(lat.shape[0], &latv[0], &lonv[0], &xv[0])
        for arr in (lat, lon, b, xyz):
            arr.setflags(write=False)
        self.latitudes, self.longitudes, self.biases, self.unit_vectors = lat, lon, b, xyz
        cdef const double[::1] bv = b
        self._xyz = &xv[0]
        self._bias = &bv[0]
        self.n = lat.shape[0]
        self._tree_arrays = None
        if _TREE_MIN < self.n <= _TREE_MAX:
            self._build_tree(xyz, b)

    cdef _build_tree(self, xyz, b):
        cdef int32_t n = <int32_t>self.n
        cdef int32_t m = 2 * n          # a tree over n items has at most 2n - 1 nodes
        perm = np.arange(n, dtype=np.int32)
        ints = np.empty((4, m), dtype=np.int32)
        box = np.empty(6 * m, dtype=np.float64)
        scale = np.empty(m, dtype=np.float64)
        cdef int32_t[::1] pv = perm
        cdef int32_t[:, ::1] iv = ints
        cdef double[::1] boxv = box
        cdef double[::1] sv = scale
        cdef const double[::1] xv = xyz
        cdef const double[::1] bv = b
        cdef int32_t count = 0
        with nogil:
            _build(&pv[0], 0, n, &xv[0], &bv[0], &iv[0, 0], &iv[1, 0], &iv[2, 0], &iv[3, 0],
                   &boxv[0], &sv[0], &count)
        txyz = np.ascontiguousarray(xyz.reshape(-1, 3)[perm]).ravel()
        tbias = np.ascontiguousarray(b[perm])
        tscale = np.empty(n, dtype=np.float64)
        cdef const double[::1] txv = txyz
        cdef const double[::1] tbv = tbias
        cdef double[::1] tsv = tscale
        cdef int32_t k
        cdef double rf
        for k in range(n):
            rf = LB_GEO_EARTH_RADIUS_KM * _biased(1.0, tbv[k])
            tsv[k] = rf * rf * _SHRINK
        self._tree_arrays = (perm, ints, box, scale, txyz, tbias, tscale)
        self._tree.perm = &pv[0]
        self._tree.xyz = &txv[0]
        self._tree.bias = &tbv[0]
        self._tree.scale2 = &tsv[0]
        self._tree.start = &iv[0, 0]
        self._tree.end = &iv[1, 0]
        self._tree.left = &iv[2, 0]
        self._tree.right = &iv[3, 0]
        self._tree.box = &boxv[0]
        self._tree.node_scale2 = &sv[0]

    cdef inline int32_t _nearest_one(self, double lat, double lon, const uint8_t* e) noexcept:
        cdef double px, py, pz
        if self._tree_arrays is None:
            return lb_geo_nearest(lat, lon, self.n, self._xyz, self._bias, e)
        _unit(lat, lon, &px, &py, &pz)
        return _tree_nearest(&self._tree, px, py, pz, e)

    def __len__(self):
        return self.n

    def __reduce__(self):
        if self.latitudes is None:
            raise TypeError("cannot pickle a Geoproximity that was never initialised")
        return (type(self), (self.latitudes, self.longitudes, self.biases))

    cdef object _eligible(self, object eligible):
        if eligible is None:
            return None
        if isinstance(eligible, bytes):
            arr = np.frombuffer(eligible, dtype=np.uint8)
        else:
            arr = np.ascontiguousarray(eligible)
            if arr.dtype == np.bool_:
                arr = arr.view(np.uint8)
            elif arr.dtype != np.uint8:
                raise TypeError(f"eligible must be bytes or a bool/uint8 array, got {arr.dtype}")
        if arr.ndim != 1 or arr.shape[0] != self.n:
            raise ValueError(f"eligible must have one flag per endpoint ({self.n})")
        return arr

    def nearest(self, lat, lon, eligible=None):
        """Index of the endpoint with the smallest biased distance (-1: none eligible)."""
        cdef double la = _check_coord(lat, "lat", 90.0)
        cdef double lo = _check_coord(lon, "lon", 180.0)
        cdef const uint8_t* e = NULL
        cdef const unsigned char[::1] ev
        if eligible is not None:
            if type(eligible) is bytes and len(<bytes>eligible) == self.n:
                e = <const uint8_t*><const char*>(<bytes>eligible)
            else:
                ev = self._eligible(eligible)
                e = &ev[0]
        return self._nearest_one(la, lo, e)

    def nearest_many(self, lats, lons, eligible=None):
        """``int32`` array: the nearest (biased) eligible endpoint for each client."""
        la = _coord_array(lats, "lats", 90.0)
        lo = _coord_array(lons, "lons", 180.0)
        if la.shape[0] != lo.shape[0]:
            raise ValueError(f"lats and lons differ in length ({la.shape[0]} != {lo.shape[0]})")
        out = np.empty(la.shape[0], dtype=np.int32)
        if la.shape[0] == 0:
            return out
        cdef const uint8_t* e = NULL
        cdef const unsigned char[::1] ev
        earr = self._eligible(eligible)
        if earr is not None:
            ev = earr
            e = &ev[0]
        cdef const double[::1] lav = la
        cdef const double[::1] lov = lo
        cdef int32_t[::1] ov = out
        keep = (self.unit_vectors, self.biases, self._tree_arrays)   # alive across nogil
        cdef Py_ssize_t i
        cdef double px, py, pz
        if self._tree_arrays is None:
            with nogil:
                lb_geo_nearest_many(lav.shape[0], &lav[0], &lov[0], self.n, self._xyz,
                                    self._bias, e, &ov[0])
        else:
            with nogil:
                for i in range(lav.shape[0]):
                    _unit(lav[i], lov[i], &px, &py, &pz)
                    ov[i] = _tree_nearest(&self._tree, px, py, pz, e)
        return out

    def distances(self, lats, lons):
        """Unbiased great-circle distances (km), shape (clients, endpoints)."""
        la = _coord_array(np.atleast_1d(lats), "lats", 90.0)
        lo = _coord_array(np.atleast_1d(lons), "lons", 180.0)
        if la.shape[0] != lo.shape[0]:
            raise ValueError(f"lats and lons differ in length ({la.shape[0]} != {lo.shape[0]})")
        out = np.empty((la.shape[0], self.n), dtype=np.float64)
        if la.shape[0] == 0:
            return out
        cdef const double[::1] lav = la
        cdef const double[::1] lov = lo
        cdef double[:, ::1] ov = out
        with nogil:
            lb_geo_distance_many(lav.shape[0], &lav[0], &lov[0], self.n, self._xyz, &ov[0, 0])
        return out
