"""An authoritative DNS server over :class:`lbcore.route53.HostedZone` (docs/dns.md).

``DNSServer(zone, host=, port=, clock=, locator=)`` answers UDP and TCP queries (asyncio)
with ``zone.resolve``: the routing decision is the zone's, the wire format dnspython's
(install the extra: ``pip install 'lbcore[dns]'``). ``Responder`` is the same answering
without sockets (wire bytes in, wire bytes out). EDNS Client Subnet (RFC 7871) gives the
client address a *locator* turns into a ``Client``: :func:`address_only` (default),
:class:`CidrLocator` (location by CIDR block) or :class:`MaxMindLocator` (a MaxMind DB).
``Probe`` / ``HealthProber``: HTTP(S), HTTP(S)_STR_MATCH and TCP health checks run for real,
feeding ``HealthCheck.observe``.
"""
try:
    import dns.message  # noqa: F401
except ImportError as exc:                       # pragma: no cover - depends on the install
    raise ImportError("lbcore.dns needs dnspython: pip install 'lbcore[dns]'") from exc

from lbcore.dns._answer import CLIENT_POLICIES, MAX_CNAME_CHAIN, MAX_UDP_PAYLOAD, Responder
from lbcore.dns._locate import CidrLocator, Locator, MaxMindLocator, address_only
from lbcore.dns._probe import BODY_LIMIT, HealthProber, Probe
from lbcore.dns._server import DEFAULT_PORT, DNSServer

__all__ = ["DNSServer", "Responder", "CidrLocator", "MaxMindLocator", "Locator",
           "address_only", "CLIENT_POLICIES", "MAX_CNAME_CHAIN", "MAX_UDP_PAYLOAD",
           "DEFAULT_PORT", "Probe", "HealthProber", "BODY_LIMIT"]
