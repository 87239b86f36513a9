"""Pure-Python models of lbcore._geo.

``distance_km`` follows the kernel's arithmetic step by step (unit vectors, chord, asin),
so kernel and model agree bit for bit; ``haversine_km`` is the textbook haversine formula,
an independent check of the model within floating-point tolerance.
"""
import math

R = 6371.0088
RAD = math.pi / 180.0


def unit(lat, lon):
    phi = lat * RAD
    lam = lon * RAD
    c = math.cos(phi)
    return (c * math.cos(lam), c * math.sin(lam), math.sin(phi))


def chord_km(p, q):
    dx = p[0] - q[0]
    dy = p[1] - q[1]
    dz = p[2] - q[2]
    h = math.sqrt(dx * dx + dy * dy + dz * dz) * 0.5
    if h > 1.0:
        h = 1.0
    return (2.0 * R) * math.asin(h)


def distance_km(lat1, lon1, lat2, lon2):
    return chord_km(unit(lat1, lon1), unit(lat2, lon2))


def haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R * math.asin(min(1.0, math.sqrt(a)))


def biased(d, bias):
    """Route 53 Developer Guide, "How Amazon Route 53 uses bias to route traffic"."""
    if bias > 0:
        return d * (1.0 - bias / 100.0)
    if bias < 0:
        return d / (1.0 + bias / 100.0)
    return d


def nearest(lat, lon, endpoints, biases, eligible=None):
    """Brute force: the eligible endpoint with the smallest biased distance; ties -> lowest
    index; -1 when nothing is eligible."""
    best, best_d = -1, None
    p = unit(lat, lon)
    for j, (elat, elon) in enumerate(endpoints):
        if eligible is not None and not eligible[j]:
            continue
        d = biased(chord_km(p, unit(elat, elon)), biases[j])
        if best_d is None or d < best_d:
            best, best_d = j, d
    return best
