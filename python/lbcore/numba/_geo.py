"""numba bindings of the geo kernel family (lbcore._geo)."""
from numba import types as _t

from lbcore.numba._bind import bind, f64p, i32p, i64p, u8p

__all__ = ["geo_distance", "geo_biased", "geo_unit_many", "geo_nearest", "geo_nearest_many",
           "geo_distance_many"]

geo_distance = bind("_geo", "lb_geo_distance",
                    _t.float64(_t.float64, _t.float64, _t.float64, _t.float64))
geo_biased = bind("_geo", "lb_geo_biased", _t.float64(_t.float64, _t.float64))
geo_unit_many = bind("_geo", "lb_geo_unit_many", _t.void(_t.int64, f64p, f64p, f64p))
geo_nearest = bind("_geo", "lb_geo_nearest",
                   _t.int32(_t.float64, _t.float64, _t.int64, f64p, f64p, u8p))
geo_nearest_many = bind("_geo", "lb_geo_nearest_many",
                        _t.void(_t.int64, f64p, f64p, _t.int64, f64p, f64p, u8p, i32p))
geo_distance_many = bind("_geo", "lb_geo_distance_many",
                         _t.void(_t.int64, f64p, f64p, _t.int64, f64p, f64p))
