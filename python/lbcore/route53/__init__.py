"""Route 53 routing policies on lbcore's kernels.

``HostedZone`` holds ``RecordSet`` objects of every routing policy (simple, weighted,
latency, failover, geolocation, geoproximity, multivalue answer, IP-based, alias) and
answers ``resolve(name, rtype, client, now)`` / ``resolve_many``; ``HostedZone.from_aws``
loads ``list_resource_record_sets`` output (one record set: ``parse_record_set``). Health:
``HealthCheck`` (timed observations, ``observe(ok, now=t)``) and ``CalculatedHealthCheck``.
Time: ``now`` in seconds from the caller, or the object's ``clock`` when omitted
(default :func:`time.monotonic`). See docs/route53.md.
"""
from lbcore.route53._aws import parse_record_set
from lbcore.route53._health import CalculatedHealthCheck, HealthCheck, HealthReporter
from lbcore.route53._records import (RECORD_TYPES, AliasTarget, CidrRouting, Geolocation,
                                     GeoproximityLocation, RecordSet)
from lbcore.route53._regions import (LOCAL_ZONE_METROS, REGION_COORDINATES,
                                     local_zone_location, region_location)
from lbcore.route53._zone import (NODATA, NXDOMAIN, Answer, BatchAnswer, Client, Clients,
                                  HostedZone, distance_latency)

__all__ = ["HostedZone", "RecordSet", "AliasTarget", "CidrRouting", "Geolocation",
           "GeoproximityLocation", "HealthCheck", "CalculatedHealthCheck", "HealthReporter",
           "Client", "Clients", "Answer", "BatchAnswer", "NODATA", "NXDOMAIN",
           "REGION_COORDINATES", "LOCAL_ZONE_METROS", "region_location",
           "local_zone_location", "distance_latency", "parse_record_set", "RECORD_TYPES"]
