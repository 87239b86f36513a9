"""Parsing the botocore ``route53`` shapes (service model 2013-04-01) into lbcore objects.

``ResourceRecordSet`` members read: Name, Type, SetIdentifier, Weight, Region,
GeoLocation{ContinentCode, CountryCode, SubdivisionCode},
GeoProximityLocation{AWSRegion, LocalZoneGroup, Coordinates{Latitude, Longitude}, Bias},
Failover, MultiValueAnswer, TTL, ResourceRecords[{Value}],
AliasTarget{HostedZoneId, DNSName, EvaluateTargetHealth}, HealthCheckId,
CidrRoutingConfig{CollectionId, LocationName}, TrafficPolicyInstanceId (ignored).
Coordinates are strings in the API (pattern ``[-+]?[0-9]{1,2}(\\.[0-9]{0,2})?`` for
latitude, ``[-+]?[0-9]{1,3}(\\.[0-9]{0,2})?`` for longitude).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from lbcore.route53._health import CalculatedHealthCheck, HealthCheck
from lbcore.route53._records import (AliasTarget, CidrRouting, Geolocation,
                                     GeoproximityLocation, LATITUDE_TEXT, LONGITUDE_TEXT,
                                     RecordSet)

_KNOWN = {"Name", "Type", "SetIdentifier", "Weight", "Region", "GeoLocation", "Failover",
          "MultiValueAnswer", "TTL", "ResourceRecords", "AliasTarget", "HealthCheckId",
          "TrafficPolicyInstanceId", "CidrRoutingConfig", "GeoProximityLocation"}

__all__ = ["parse_record_set", "parse_health_checks", "parse_cidr_collections"]


def _sub(d: Mapping[str, Any], field: str, keys: Iterable[str]) -> Any:
    v = d.get(field)
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise ValueError(f"{field} must be a structure, got {type(v).__name__}")
    extra = set(v) - set(keys)
    if extra:
        raise ValueError(f"{field}: unknown members {sorted(extra)}")
    return v


def parse_record_set(d: Mapping[str, Any],
                     alias_targets: Mapping[str, Any] | None = None) -> RecordSet:
    """One ``ResourceRecordSet`` dict -> :class:`RecordSet` (ValueError names the field)."""
    if not isinstance(d, Mapping):
        raise TypeError(f"ResourceRecordSets items must be dicts, got {type(d).__name__}")
    extra = set(d) - _KNOWN
    if extra:
        raise ValueError(f"ResourceRecordSet: unknown members {sorted(extra)}")
    for f in ("Name", "Type"):
        if f not in d:
            raise ValueError(f"{f} is required in a ResourceRecordSet")
    kw = {}
    if "SetIdentifier" in d:
        kw["set_identifier"] = d["SetIdentifier"]
    if "Weight" in d:
        kw["weight"] = d["Weight"]
    if "Region" in d:
        kw["region"] = d["Region"]
    if "Failover" in d:
        kw["failover"] = d["Failover"]
    if d.get("MultiValueAnswer") is not None:
        kw["multivalue"] = d["MultiValueAnswer"]
    if "TTL" in d:
        kw["ttl"] = d["TTL"]
    if "HealthCheckId" in d:
        kw["health_check"] = d["HealthCheckId"]
    geo = _sub(d, "GeoLocation", ("ContinentCode", "CountryCode", "SubdivisionCode"))
    if geo is not None:
        kw["geolocation"] = Geolocation(geo.get("ContinentCode"), geo.get("CountryCode"),
                                        geo.get("SubdivisionCode"))
    gp = _sub(d, "GeoProximityLocation", ("AWSRegion", "LocalZoneGroup", "Coordinates", "Bias"))
    if gp is not None:
        coords = _sub(gp, "Coordinates", ("Latitude", "Longitude"))
        if coords is not None:
            lat, lon = coords.get("Latitude"), coords.get("Longitude")
            if not isinstance(lat, str) or not LATITUDE_TEXT.fullmatch(lat):
                raise ValueError(f"Coordinates.Latitude must be a string matching "
                                 f"[-+]?[0-9]{{1,2}}(\\.[0-9]{{0,2}})?, got {lat!r}")
            if not isinstance(lon, str) or not LONGITUDE_TEXT.fullmatch(lon):
                raise ValueError(f"Coordinates.Longitude must be a string matching "
                                 f"[-+]?[0-9]{{1,3}}(\\.[0-9]{{0,2}})?, got {lon!r}")
            coords = (float(lat), float(lon))
        kw["geoproximity"] = GeoproximityLocation(gp.get("AWSRegion"), gp.get("LocalZoneGroup"),
                                                  coords, gp.get("Bias", 0))
    cidr = _sub(d, "CidrRoutingConfig", ("CollectionId", "LocationName"))
    if cidr is not None:
        kw["cidr"] = CidrRouting(cidr.get("CollectionId"), cidr.get("LocationName"))
    alias = _sub(d, "AliasTarget", ("HostedZoneId", "DNSName", "EvaluateTargetHealth"))
    values = ()
    if alias is not None:
        if "DNSName" not in alias or "EvaluateTargetHealth" not in alias:
            raise ValueError("AliasTarget needs DNSName and EvaluateTargetHealth")
        from lbcore.route53._records import normalize_name
        target = (alias_targets or {}).get(normalize_name(alias["DNSName"], "AliasTarget.DNSName"))
        kw["alias"] = AliasTarget(alias["DNSName"], alias["EvaluateTargetHealth"],
                                  alias.get("HostedZoneId"), target)
        if d.get("ResourceRecords"):
            raise ValueError("AliasTarget cannot be combined with ResourceRecords")
    else:
        rr = d.get("ResourceRecords")
        if not isinstance(rr, (list, tuple)) or not rr:
            raise ValueError("ResourceRecords (a non-empty list of {'Value': ...}) is required "
                             "unless AliasTarget is given")
        vals = []
        for item in rr:
            if not isinstance(item, Mapping) or set(item) != {"Value"}:
                raise ValueError(f"ResourceRecords items must be {{'Value': str}}, got {item!r}")
            vals.append(item["Value"])
        values = tuple(vals)
    return RecordSet(d["Name"], d["Type"], values, **kw)


def parse_health_checks(health_checks: Any) -> dict[str, Any]:
    """``{Id: object}`` or a list of ``HealthCheck`` dicts (get_health_check shape)."""
    if health_checks is None:
        return {}
    if isinstance(health_checks, Mapping):
        for k, v in health_checks.items():
            if not callable(getattr(v, "is_healthy", None)):
                raise TypeError(f"health_checks[{k!r}] must provide is_healthy(now)")
        return dict(health_checks)
    if isinstance(health_checks, (str, bytes)) or not hasattr(health_checks, "__iter__"):
        raise TypeError(f"health_checks must be a mapping or a list of HealthCheck dicts, "
                        f"got {type(health_checks).__name__}")
    raw = {}
    for i, hc in enumerate(health_checks):
        if not isinstance(hc, Mapping) or "Id" not in hc or "HealthCheckConfig" not in hc:
            raise ValueError(f"health_checks[{i}] needs Id and HealthCheckConfig")
        if not isinstance(hc["HealthCheckConfig"], Mapping):
            raise TypeError(f"health_checks[{i}].HealthCheckConfig must be a dict, got "
                            f"{type(hc['HealthCheckConfig']).__name__}")
        raw[hc["Id"]] = hc["HealthCheckConfig"]
    out: dict[str, Any] = {}

    def build(hid: str, stack: tuple[str, ...] = ()) -> Any:
        if hid in out:
            return out[hid]
        if hid in stack:
            raise ValueError(f"HealthCheckConfig.ChildHealthChecks: cycle through {hid!r}")
        if hid not in raw:
            raise ValueError(f"HealthCheckConfig.ChildHealthChecks: unknown health check {hid!r}")
        cfg = raw[hid]
        inverted = cfg.get("Inverted", False)
        disabled = cfg.get("Disabled", False)
        if cfg.get("Type") == "CALCULATED":
            kids = [build(c, stack + (hid,)) for c in cfg.get("ChildHealthChecks", [])]
            obj: Any = CalculatedHealthCheck(kids, cfg.get("HealthThreshold", 0), hid,
                                        inverted=inverted, disabled=disabled)
        else:
            ft = cfg.get("FailureThreshold", 3)
            ri = cfg.get("RequestInterval", 30)
            try:
                obj = HealthCheck(hid, failure_threshold=ft, request_interval=ri,
                                  inverted=inverted, disabled=disabled)
            except ValueError as exc:
                field = "FailureThreshold" if "failure" in str(exc) else "RequestInterval"
                raise ValueError(f"HealthCheckConfig.{field}: {exc}") from None
        out[hid] = obj
        return obj

    for hid in raw:
        build(hid)
    return out


def parse_cidr_collections(collections: Any) -> dict[str, dict[str, list[str]]]:
    """``{CollectionId: {LocationName: [CidrBlock]}}`` or ``{CollectionId: [{'CidrBlock':
    ..., 'LocationName': ...}]}`` -> the first form."""
    if collections is None:
        return {}
    if not isinstance(collections, Mapping):
        raise TypeError(f"cidr_collections must be a mapping {{CollectionId: ...}}, got "
                        f"{type(collections).__name__}")
    out: dict[str, dict[str, list[str]]] = {}
    for cid, locs in collections.items():
        if isinstance(locs, Mapping):
            out[cid] = {k: list(v) if not isinstance(v, str) else [v] for k, v in locs.items()}
        else:
            m: dict[str, list[str]] = {}
            for item in locs:
                if not isinstance(item, Mapping) or "CidrBlock" not in item \
                        or "LocationName" not in item:
                    raise ValueError("cidr_collections items need CidrBlock and LocationName")
                m.setdefault(item["LocationName"], []).append(item["CidrBlock"])
            out[cid] = m
    return out
