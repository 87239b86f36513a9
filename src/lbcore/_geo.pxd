# cython: language_level=3
"""The geo kernel family: great-circle distance, Route 53's geoproximity bias,
and the argmin of biased distance over endpoints (scalar and batch).

Distance model (documented in docs/route53.md, modelled in tests/reference/geo_ref.py):

* the Earth is a sphere of radius ``LB_GEO_EARTH_RADIUS_KM`` = 6371.0088 km (the
  IUGG mean radius R1 = (2a + b) / 3 of the WGS 84 ellipsoid);
* a point (lat, lon) in degrees maps to the unit vector
  (cos lat cos lon, cos lat sin lon, sin lat);
* the great-circle distance between unit vectors p, q is
  ``2 R asin(|p - q| / 2)`` -- the haversine formula written with the chord
  |p - q| (haversin(central angle) = |p - q|^2 / 4), which keeps full precision
  for nearby points and needs one asin per pair, no per-pair sin/cos;
* bias b in [-99, 99] (Route 53 Developer Guide, "How Amazon Route 53 uses bias to
  route traffic"): b > 0: d * (1 - b/100); b < 0: d / (1 + b/100); b = 0: d;
* argmin: the eligible endpoint with the smallest biased distance; ties go to the
  lowest endpoint index (strict ``<`` while scanning in index order). An
  ``eligible`` pointer may be NULL (every endpoint eligible); when no endpoint is
  eligible the result is -1.

Exported functions are single-typed and ``noexcept nogil``; numba binds them
through ``lbcore.numba``.
"""
from libc.stdint cimport uint8_t, int32_t, int64_t

cdef extern from *:
    """
    #define LB_GEO_EARTH_RADIUS_KM 6371.0088
    """
    double LB_GEO_EARTH_RADIUS_KM


cdef double lb_geo_distance(double lat1, double lon1, double lat2, double lon2) noexcept nogil

cdef double lb_geo_biased(double distance, double bias) noexcept nogil

cdef void lb_geo_unit_many(int64_t n, const double* lat, const double* lon,
                           double* xyz) noexcept nogil

cdef int32_t lb_geo_nearest(double lat, double lon, int64_t n, const double* exyz,
                            const double* bias, const uint8_t* eligible) noexcept nogil

cdef void lb_geo_nearest_many(int64_t m, const double* lat, const double* lon,
                              int64_t n, const double* exyz, const double* bias,
                              const uint8_t* eligible, int32_t* out) noexcept nogil

cdef void lb_geo_distance_many(int64_t m, const double* lat, const double* lon,
                               int64_t n, const double* exyz, double* out) noexcept nogil
