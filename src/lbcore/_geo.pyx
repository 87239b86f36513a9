# cython: language_level=3
"""Geoproximity kernels (great-circle distance, Route 53 bias, nearest endpoint)
and their Python entry points. The model is described in _geo.pxd."""
cimport cython
from libc.math cimport sin, cos, sqrt, asin, isfinite, INFINITY
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
    cdef double bestd = INFINITY, d
    for j in range(n):
        if eligible != NULL and eligible[j] == 0:
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
        return lb_geo_nearest(la, lo, self.n, self._xyz, self._bias, e)

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
        keep = (self.unit_vectors, self.biases)   # referenced while the nogil loop runs
        with nogil:
            lb_geo_nearest_many(lav.shape[0], &lav[0], &lov[0], self.n, self._xyz,
                                self._bias, e, &ov[0])
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
