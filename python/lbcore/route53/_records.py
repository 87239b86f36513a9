"""Route 53 record sets: one class for every routing policy, validated like Route 53.

Field names follow the botocore ``route53`` model's ``ResourceRecordSet`` shape
(Name, Type, SetIdentifier, Weight, Region, GeoLocation, GeoProximityLocation, Failover,
MultiValueAnswer, CidrRoutingConfig, HealthCheckId, TTL, ResourceRecords, AliasTarget);
error messages name the Python parameter and the botocore field.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["RecordSet", "AliasTarget", "Geolocation", "GeoproximityLocation", "CidrRouting",
           "RECORD_TYPES", "CONTINENTS", "POLICIES", "LATITUDE_TEXT", "LONGITUDE_TEXT",
           "normalize_name"]

RECORD_TYPES = frozenset({"SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV",
                          "SPF", "AAAA", "CAA", "DS", "TLSA", "SSHFP", "SVCB", "HTTPS"})
CONTINENTS = frozenset({"AF", "AN", "AS", "EU", "OC", "NA", "SA"})
POLICIES = ("simple", "weighted", "latency", "failover", "geolocation", "geoproximity",
            "multivalue", "ip")
# the API's Coordinates strings (botocore route53 Coordinates.Latitude / .Longitude)
LATITUDE_TEXT = re.compile(r"[-+]?[0-9]{1,2}(\.[0-9]{0,2})?")
LONGITUDE_TEXT = re.compile(r"[-+]?[0-9]{1,3}(\.[0-9]{0,2})?")
_LOCATION = re.compile(r"[0-9A-Za-z_\-]{1,16}|\*")


def _err(py: str, aws: str, msg: str) -> str:
    return f"{py} ({aws}) {msg}"


def normalize_name(name: str, field: str = "name (Name)") -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{field} must be a non-empty domain name string, got {name!r}")
    n = name.lower()
    if n.endswith(".") and n != ".":
        n = n[:-1]
    n = n.replace("\\052", "*")
    if len(n) > 1024:
        raise ValueError(f"{field} is longer than 1024 characters")
    return n


@dataclass(frozen=True)
class Geolocation:
    """A geolocation rule: ``continent``, or ``country`` (+ ``subdivision`` for US states),
    or ``country="*"`` (the default location)."""
    continent: str | None = None
    country: str | None = None
    subdivision: str | None = None

    def __post_init__(self) -> None:
        c, k, s = self.continent, self.country, self.subdivision
        for v, f in ((c, "ContinentCode"), (k, "CountryCode"), (s, "SubdivisionCode")):
            if v is not None and (not isinstance(v, str) or not v):
                raise ValueError(_err("geolocation", f"GeoLocation.{f}", f"must be a string, got {v!r}"))
        if c is None and k is None and s is None:
            raise ValueError(_err("geolocation", "GeoLocation",
                                  "needs ContinentCode, CountryCode or SubdivisionCode"))
        if c is not None and (k is not None or s is not None):
            raise ValueError(_err("geolocation", "GeoLocation.ContinentCode",
                                  "cannot be combined with CountryCode or SubdivisionCode"))
        if c is not None and c not in CONTINENTS:
            raise ValueError(_err("geolocation", "GeoLocation.ContinentCode",
                                  f"must be one of {sorted(CONTINENTS)}, got {c!r}"))
        if k is not None and k != "*" and not re.fullmatch(r"[A-Z]{2}", k):
            raise ValueError(_err("geolocation", "GeoLocation.CountryCode",
                                  f"must be a 2-letter ISO 3166 code or '*', got {k!r}"))
        if s is not None:
            if k != "US":
                raise ValueError(_err("geolocation", "GeoLocation.SubdivisionCode",
                                      "requires CountryCode 'US' (US states only)"))
            if not re.fullmatch(r"[A-Z]{2}", s):
                raise ValueError(_err("geolocation", "GeoLocation.SubdivisionCode",
                                      f"must be a 2-letter US state code, got {s!r}"))

    @property
    def is_default(self) -> bool:
        return self.country == "*"

    @property
    def key(self) -> tuple[str | None, ...]:
        if self.is_default:
            return ("*",)
        if self.continent is not None:
            return ("continent", self.continent)
        if self.subdivision is not None:
            return ("subdivision", self.country, self.subdivision)
        return ("country", self.country)


@dataclass(frozen=True)
class GeoproximityLocation:
    """Exactly one of ``region`` (AWSRegion), ``local_zone_group`` (LocalZoneGroup) or
    ``coordinates`` ((lat, lon), 2 decimals), plus ``bias`` in -99..99."""
    region: str | None = None
    local_zone_group: str | None = None
    coordinates: tuple[float, float] | None = None
    bias: int = 0

    def __post_init__(self) -> None:
        given = [x for x in (self.region, self.local_zone_group, self.coordinates) if x is not None]
        if len(given) != 1:
            raise ValueError(_err("geoproximity", "GeoProximityLocation",
                                  "needs exactly one of AWSRegion, LocalZoneGroup, Coordinates"))
        b = self.bias
        if isinstance(b, bool) or not isinstance(b, int):
            raise TypeError(_err("bias", "GeoProximityLocation.Bias",
                                 f"must be an int, got {type(b).__name__}"))
        if not -99 <= b <= 99:
            raise ValueError(_err("bias", "GeoProximityLocation.Bias",
                                  f"must be in -99..99, got {b}"))
        if self.coordinates is not None:
            try:
                lat, lon = self.coordinates
                lat, lon = float(lat), float(lon)
            except (TypeError, ValueError):
                raise ValueError(_err("coordinates", "GeoProximityLocation.Coordinates",
                                      "must be a (latitude, longitude) pair")) from None
            if not (math.isfinite(lat) and -90 <= lat <= 90):
                raise ValueError(_err("coordinates", "Coordinates.Latitude",
                                      f"must be in -90..90, got {lat}"))
            if not (math.isfinite(lon) and -180 <= lon <= 180):
                raise ValueError(_err("coordinates", "Coordinates.Longitude",
                                      f"must be in -180..180, got {lon}"))
            object.__setattr__(self, "coordinates", (lat, lon))


@dataclass(frozen=True)
class CidrRouting:
    """IP-based routing: a CIDR collection and one of its location names (``*`` = default)."""
    collection_id: str
    location_name: str

    def __post_init__(self) -> None:
        if not isinstance(self.collection_id, str) or not self.collection_id:
            raise ValueError(_err("cidr", "CidrRoutingConfig.CollectionId", "is required"))
        if not isinstance(self.location_name, str) or not _LOCATION.fullmatch(self.location_name):
            raise ValueError(_err("cidr", "CidrRoutingConfig.LocationName",
                                  f"must match [0-9A-Za-z_-]{{1,16}} or be '*', "
                                  f"got {self.location_name!r}"))


@dataclass(frozen=True)
class AliasTarget:
    """An alias: ``dns_name`` (a name in the same zone, or an external resource such as a
    load balancer), ``evaluate_target_health``, and optionally ``target``: an object with
    ``is_healthy(now)`` (and, optionally, ``alias_values(rtype)`` giving the answer
    values, or ``alias_answer(rtype, client, now)`` giving them per query: lbcore.elb's
    Network Load Balancer, whose zonal DNS affinity answers by the client's AZ)."""
    dns_name: str
    evaluate_target_health: bool = False
    hosted_zone_id: str | None = None
    target: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dns_name",
                           normalize_name(self.dns_name, "alias (AliasTarget.DNSName)"))
        if self.evaluate_target_health not in (True, False):
            raise TypeError(_err("alias", "AliasTarget.EvaluateTargetHealth", "must be a bool"))
        if self.target is not None and not callable(getattr(self.target, "is_healthy", None)):
            raise TypeError(_err("alias", "AliasTarget", "target must provide is_healthy(now)"))


class RecordSet:
    """One Route 53 resource record set.

    The routing policy follows from the policy field given: ``weight`` (weighted),
    ``region`` (latency), ``failover`` (failover), ``geolocation``, ``geoproximity``,
    ``multivalue=True`` (multivalue answer), ``cidr`` (IP-based); none of them: simple.
    Every policy but simple needs a ``set_identifier``. Either ``values`` (ResourceRecords)
    with ``ttl``, or ``alias``.
    """

    __slots__ = ("name", "type", "values", "ttl", "set_identifier", "weight", "region",
                 "failover", "geolocation", "geoproximity", "multivalue", "cidr",
                 "health_check", "alias", "policy")

    def __init__(self, name: str, type: str, values: str | Iterable[str] = (), *,
                 ttl: int | None = None, set_identifier: str | None = None,
                 weight: int | None = None, region: str | None = None,
                 failover: str | None = None, geolocation: Geolocation | None = None,
                 geoproximity: GeoproximityLocation | None = None, multivalue: bool = False,
                 cidr: CidrRouting | None = None, health_check: Any = None,
                 alias: AliasTarget | None = None) -> None:
        self.name = normalize_name(name)
        if type not in RECORD_TYPES:
            raise ValueError(_err("type", "Type", f"must be one of {sorted(RECORD_TYPES)}, "
                                                  f"got {type!r}"))
        self.type = type
        if isinstance(values, str):
            values = (values,)
        values = tuple(values)
        for v in values:
            if not isinstance(v, str) or not v:
                raise ValueError(_err("values", "ResourceRecords.Value",
                                      f"must be non-empty strings, got {v!r}"))
        if type == "CNAME" and len(values) > 1:   # guide, "Values that are common for
            raise ValueError(_err(                  # all routing policies", Value
                "values", "ResourceRecords",
                f"{self.name} CNAME: a CNAME record set has exactly one value, got "
                f"{len(values)}"))
        if alias is not None:
            if not isinstance(alias, AliasTarget):
                raise TypeError(_err("alias", "AliasTarget", "must be an AliasTarget"))
            if values:
                raise ValueError(_err("alias", "AliasTarget",
                                      "cannot be combined with ResourceRecords"))
            if ttl is not None:
                raise ValueError(_err("ttl", "TTL", "must not be set on an alias record"))
        elif not values:
            raise ValueError(_err("values", "ResourceRecords",
                                  "are required unless AliasTarget is given"))
        if ttl is None:
            ttl = None if alias is not None else 300
        elif isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
            raise ValueError(_err("ttl", "TTL", f"must be an int in 0..2147483647, got {ttl!r}"))
        self.values, self.ttl, self.alias = values, ttl, alias

        policies = []
        if weight is not None:
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise TypeError(_err("weight", "Weight", f"must be an int, got {weight!r}"))
            if not 0 <= weight <= 255:
                raise ValueError(_err("weight", "Weight", f"must be in 0..255, got {weight}"))
            policies.append("weighted")
        if region is not None:
            if not isinstance(region, str) or not region:
                raise ValueError(_err("region", "Region", f"must be a Region name, got {region!r}"))
            policies.append("latency")
        if failover is not None:
            if failover not in ("PRIMARY", "SECONDARY"):
                raise ValueError(_err("failover", "Failover",
                                      f"must be 'PRIMARY' or 'SECONDARY', got {failover!r}"))
            policies.append("failover")
        if geolocation is not None:
            if not isinstance(geolocation, Geolocation):
                raise TypeError(_err("geolocation", "GeoLocation", "must be a Geolocation"))
            policies.append("geolocation")
        if geoproximity is not None:
            if not isinstance(geoproximity, GeoproximityLocation):
                raise TypeError(_err("geoproximity", "GeoProximityLocation",
                                     "must be a GeoproximityLocation"))
            policies.append("geoproximity")
        if multivalue not in (True, False):
            raise TypeError(_err("multivalue", "MultiValueAnswer", "must be a bool"))
        if multivalue:
            if alias is not None:
                raise ValueError(_err("multivalue", "MultiValueAnswer",
                                      "cannot be used with an alias record"))
            if type in ("NS", "CNAME"):      # guide, "Values specific for multivalue
                raise ValueError(_err(        # answer records", Record type
                    "multivalue", "MultiValueAnswer",
                    f"{self.name} {type}: a multivalue answer record can have any type "
                    f"except NS or CNAME"))
            policies.append("multivalue")
        if cidr is not None:
            if not isinstance(cidr, CidrRouting):
                raise TypeError(_err("cidr", "CidrRoutingConfig", "must be a CidrRouting"))
            policies.append("ip")
        if len(policies) > 1:
            raise ValueError(_err("routing policy", "/".join(policies),
                                  "only one routing policy per record set"))
        self.policy = policies[0] if policies else "simple"
        if self.policy == "simple":
            if set_identifier is not None:
                raise ValueError(_err("set_identifier", "SetIdentifier",
                                      "is only allowed with a routing policy"))
            if health_check is not None:
                raise ValueError(_err("health_check", "HealthCheckId",
                                      "is not supported on simple records"))
        else:
            if not isinstance(set_identifier, str) or not 1 <= len(set_identifier) <= 128:
                raise ValueError(_err("set_identifier", "SetIdentifier",
                                      f"is required (1..128 chars) for {self.policy} records"))
        if health_check is not None and not isinstance(health_check, str) \
                and not callable(getattr(health_check, "is_healthy", None)):
            raise TypeError(_err("health_check", "HealthCheckId",
                                 "must be a health check id or provide is_healthy(now)"))
        self.set_identifier = set_identifier
        self.weight, self.region, self.failover = weight, region, failover
        self.geolocation, self.geoproximity, self.multivalue = geolocation, geoproximity, multivalue
        self.cidr, self.health_check = cidr, health_check

    def __repr__(self) -> str:
        ident = f", set_identifier={self.set_identifier!r}" if self.set_identifier else ""
        body = f"alias={self.alias.dns_name!r}" if self.alias else f"values={self.values!r}"
        return f"RecordSet({self.name!r}, {self.type!r}, {body}, policy={self.policy!r}{ident})"
