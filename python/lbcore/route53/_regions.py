"""Approximate coordinates of AWS Regions and Local Zone groups, for geoproximity records
that name an ``AWSRegion`` or a ``LocalZoneGroup`` instead of ``Coordinates``.

AWS does not publish the coordinates Route 53 uses for a Region. The AWS "Regions and
Availability Zones" documentation names each Region's metropolitan area (e.g. "US East
(N. Virginia)", "Europe (Frankfurt)"); the coordinates below are public city-centre
locations of those named areas, rounded to 2 decimals (the precision the Route 53 API
accepts for ``Coordinates``). Local Zone group names embed an IATA airport/metro code
(``us-west-2-lax-1`` = Los Angeles); ``LOCAL_ZONE_METROS`` maps those codes to their
city's coordinates, so any group named ``<region>-<code>-<n>`` with a known code resolves.
Both tables are plain dicts: callers may pass their own (``HostedZone(regions=...,
local_zones=...)``).
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

# region -> (latitude, longitude, named area used)
REGION_COORDINATES: dict[str, tuple[float, float, str]] = {
    "us-east-1": (39.04, -77.49, "N. Virginia (Ashburn)"),
    "us-east-2": (39.96, -83.00, "Ohio (Columbus)"),
    "us-west-1": (37.77, -122.42, "N. California (San Francisco)"),
    "us-west-2": (45.52, -122.68, "Oregon (Portland)"),
    "ca-central-1": (45.50, -73.57, "Canada Central (Montreal)"),
    "ca-west-1": (51.05, -114.07, "Canada West (Calgary)"),
    "mx-central-1": (20.59, -100.39, "Mexico Central (Queretaro)"),
    "sa-east-1": (-23.55, -46.63, "South America (Sao Paulo)"),
    "eu-west-1": (53.35, -6.26, "Europe (Ireland, Dublin)"),
    "eu-west-2": (51.51, -0.13, "Europe (London)"),
    "eu-west-3": (48.86, 2.35, "Europe (Paris)"),
    "eu-central-1": (50.11, 8.68, "Europe (Frankfurt)"),
    "eu-central-2": (47.37, 8.54, "Europe (Zurich)"),
    "eu-north-1": (59.33, 18.07, "Europe (Stockholm)"),
    "eu-south-1": (45.46, 9.19, "Europe (Milan)"),
    "eu-south-2": (41.65, -0.88, "Europe (Spain, Zaragoza)"),
    "il-central-1": (32.09, 34.78, "Israel (Tel Aviv)"),
    "me-south-1": (26.23, 50.59, "Middle East (Bahrain, Manama)"),
    "me-central-1": (25.20, 55.27, "Middle East (UAE, Dubai)"),
    "af-south-1": (-33.92, 18.42, "Africa (Cape Town)"),
    "ap-east-1": (22.32, 114.17, "Asia Pacific (Hong Kong)"),
    "ap-east-2": (25.03, 121.57, "Asia Pacific (Taipei)"),
    "ap-south-1": (19.08, 72.88, "Asia Pacific (Mumbai)"),
    "ap-south-2": (17.39, 78.49, "Asia Pacific (Hyderabad)"),
    "ap-southeast-1": (1.35, 103.82, "Asia Pacific (Singapore)"),
    "ap-southeast-2": (-33.87, 151.21, "Asia Pacific (Sydney)"),
    "ap-southeast-3": (-6.21, 106.85, "Asia Pacific (Jakarta)"),
    "ap-southeast-4": (-37.81, 144.96, "Asia Pacific (Melbourne)"),
    "ap-southeast-5": (3.14, 101.69, "Asia Pacific (Malaysia, Kuala Lumpur)"),
    "ap-southeast-7": (13.76, 100.50, "Asia Pacific (Thailand, Bangkok)"),
    "ap-northeast-1": (35.68, 139.69, "Asia Pacific (Tokyo)"),
    "ap-northeast-2": (37.57, 126.98, "Asia Pacific (Seoul)"),
    "ap-northeast-3": (34.69, 135.50, "Asia Pacific (Osaka)"),
    "cn-north-1": (39.90, 116.40, "China (Beijing)"),
    "cn-northwest-1": (38.49, 106.23, "China (Ningxia, Yinchuan)"),
}

# IATA metro code in a Local Zone group name -> (latitude, longitude, city)
LOCAL_ZONE_METROS: dict[str, tuple[float, float, str]] = {
    "atl": (33.75, -84.39, "Atlanta"), "bos": (42.36, -71.06, "Boston"),
    "chi": (41.88, -87.63, "Chicago"), "dfw": (32.78, -96.80, "Dallas"),
    "den": (39.74, -104.99, "Denver"), "iah": (29.76, -95.37, "Houston"),
    "las": (36.17, -115.14, "Las Vegas"), "lax": (34.05, -118.24, "Los Angeles"),
    "mci": (39.10, -94.58, "Kansas City"), "mia": (25.76, -80.19, "Miami"),
    "msp": (44.98, -93.27, "Minneapolis"), "nyc": (40.71, -74.01, "New York"),
    "pdx": (45.52, -122.68, "Portland"), "phl": (39.95, -75.17, "Philadelphia"),
    "phx": (33.45, -112.07, "Phoenix"), "sea": (47.61, -122.33, "Seattle"),
    "hnl": (21.31, -157.86, "Honolulu"), "anc": (61.22, -149.90, "Anchorage"),
    "qro": (20.59, -100.39, "Queretaro"), "lim": (-12.05, -77.04, "Lima"),
    "scl": (-33.45, -70.67, "Santiago"), "bue": (-34.60, -58.38, "Buenos Aires"),
    "tpe": (25.03, 121.57, "Taipei"), "del": (28.61, 77.21, "Delhi"),
    "ccu": (22.57, 88.36, "Kolkata"), "bkk": (13.76, 100.50, "Bangkok"),
    "mnl": (14.60, 120.98, "Manila"), "per": (-31.95, 115.86, "Perth"),
    "akl": (-36.85, 174.76, "Auckland"), "ham": (53.55, 9.99, "Hamburg"),
    "waw": (52.23, 21.01, "Warsaw"), "cph": (55.68, 12.57, "Copenhagen"),
    "hel": (60.17, 24.94, "Helsinki"), "mct": (23.59, 58.41, "Muscat"),
    "los": (6.52, 3.38, "Lagos"),
}

_GROUP = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)-([a-z]{3})-\d+$")


def _lat_lon(entry: object, where: str) -> tuple[float, float]:
    try:
        lat, lon = float(entry[0]), float(entry[1])        # type: ignore[index]
    except (TypeError, IndexError, KeyError, ValueError):
        raise ValueError(f"{where} must be (latitude, longitude), got {entry!r}") from None
    return lat, lon


def region_location(region: str, table: Mapping[str, Sequence[float]] | None = None
                    ) -> tuple[float, float]:
    """(lat, lon) of an AWS Region from ``table`` (default ``REGION_COORDINATES``)."""
    if table is not None and not isinstance(table, Mapping):
        raise TypeError(f"table must be a mapping {{region: (lat, lon)}}, got "
                        f"{type(table).__name__}")
    if not isinstance(region, str):
        raise TypeError(f"region must be a str, got {type(region).__name__}")
    entry = (REGION_COORDINATES if table is None else table).get(region)
    if entry is None:
        raise ValueError(f"AWSRegion {region!r} is not in the Region coordinate table")
    return _lat_lon(entry, f"table[{region!r}]")


def local_zone_location(group: str, table: Mapping[str, Sequence[float]] | None = None
                        ) -> tuple[float, float]:
    """(lat, lon) of a Local Zone group such as ``us-west-2-lax-1``."""
    if table is not None and not isinstance(table, Mapping):
        raise TypeError(f"table must be a mapping {{group: (lat, lon)}}, got "
                        f"{type(table).__name__}")
    if not isinstance(group, str):
        raise TypeError(f"group must be a str, got {type(group).__name__}")
    if table is not None and group in table:
        return _lat_lon(table[group], f"table[{group!r}]")
    m = _GROUP.match(group) if isinstance(group, str) else None
    if m is None or m.group(2) not in LOCAL_ZONE_METROS:
        raise ValueError(f"LocalZoneGroup {group!r} is not a known Local Zone group")
    lat, lon, _ = LOCAL_ZONE_METROS[m.group(2)]
    return lat, lon
