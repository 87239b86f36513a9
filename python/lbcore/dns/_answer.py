"""Responder: one DNS query in wire format -> one response in wire format, no sockets.

The routing decision is the zone's (``HostedZone.resolve``); this module holds only what
an authoritative server must do around it (RFC 1034/1035, 2181, 2308, 6891, 7871, 8020):
REFUSED outside the zone, the authoritative-answer flag, CNAME chains inside the zone,
NXDOMAIN vs NODATA with the zone's SOA in the authority section, EDNS0 payload sizes and
truncation, EDNS Client Subnet, FORMERR/NOTIMP/BADVERS for what it cannot answer.
"""
from __future__ import annotations

import logging
import socket
from typing import Callable

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from lbcore.route53 import RECORD_TYPES, Answer, Client, HostedZone
from lbcore.dns._locate import Locator, address_only

__all__ = ["Responder", "CLIENT_POLICIES", "MAX_CNAME_CHAIN", "MAX_UDP_PAYLOAD"]

log = logging.getLogger("lbcore.dns")

# Routing policies whose answer depends on where the client is: an answer that used one
# is tailored to the client subnet (RFC 7871 scope = the query's source prefix length);
# every other answer is the same for every client (scope 0).
CLIENT_POLICIES = frozenset({"latency", "geolocation", "geoproximity", "ip"})

MAX_CNAME_CHAIN = 8          # CNAMEs followed inside the zone for one query
CLASSIC_UDP = 512            # RFC 1035 4.2.1: UDP without EDNS0
# Route 53 Developer Guide, "DNS constraints and behaviors": with EDNS0, responses up to
# 4096 bytes over UDP without truncation
MAX_UDP_PAYLOAD = 4096
# Route 53's default SOA values (Route 53 Developer Guide, "NS and SOA records that Amazon
# Route 53 creates for a public hosted zone"): refresh 7200, retry 900, expire 1209600,
# minimum (negative caching TTL) 86400, record TTL 900. Used when the zone has no SOA.
_DEFAULT_SOA = "{ns} hostmaster.{zone}. 1 7200 900 1209600 86400"
_DEFAULT_SOA_TTL = 900
_ECS = dns.edns.OptionType.ECS
_CACHE_LIMIT = 100_000       # entries per cache of parsed rdata / ECS options (memory bound)


class _FormError(Exception):
    """The query is well-formed DNS but breaks a rule that calls for FORMERR."""


class Responder:
    """Answers DNS queries from a :class:`~lbcore.route53.HostedZone`.

    ``respond(wire, source, udp=True)`` -> the response's wire bytes, or None when the
    datagram must be dropped (shorter than a DNS header, or itself a response).
    ``clock``: seconds for health (default: the zone's clock), read once per query and
    passed to ``resolve`` as ``now``. ``locator``: client address -> ``Client``
    (default :func:`~lbcore.dns.address_only`). ``max_udp_payload``: the largest UDP
    response this server sends (an EDNS0 query's payload size is honoured up to it; a
    query without EDNS0 gets at most 512 bytes); a larger answer is sent truncated (TC).
    """

    def __init__(self, zone: HostedZone, *, clock: Callable[[], float] | None = None,
                 locator: Locator | None = None, max_udp_payload: int = MAX_UDP_PAYLOAD) -> None:
        if not isinstance(zone, HostedZone):
            raise TypeError(f"zone must be a lbcore.route53.HostedZone, got "
                            f"{type(zone).__name__}")
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        if locator is not None and not callable(locator):
            raise TypeError("locator must be a callable (ip: str) -> lbcore.route53.Client")
        if isinstance(max_udp_payload, bool) or not isinstance(max_udp_payload, int) \
                or not CLASSIC_UDP <= max_udp_payload <= 65535:
            raise ValueError(f"max_udp_payload must be an int in 512..65535, got "
                             f"{max_udp_payload!r}")
        self.zone = zone
        self.clock = zone.clock if clock is None else clock
        self.locator = address_only if locator is None else locator
        self.max_udp_payload = max_udp_payload
        self.origin = dns.name.from_text(zone.name)
        self._rdata: dict[tuple[int, str], dns.rdata.Rdata] = {}
        self._ecs_options: dict[tuple[str, int, int], dns.edns.ECSOption] = {}

    # ------------------------------------------------------------ entry point
    def respond(self, wire: bytes, source: str | None = None, *, udp: bool = True
                ) -> bytes | None:
        """The response to query ``wire`` from address ``source`` (None: unknown)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None
        except Exception:                   # malformed: FORMERR when the header is readable
            return self._header_only(wire, dns.rcode.FORMERR)
        if query.flags & dns.flags.QR:
            return None                     # never answer a response
        try:
            response = self._response(query, source)
        except _FormError:
            response = self._error(query, dns.rcode.FORMERR)
        except Exception:
            log.exception("lbcore.dns: failed to answer %s", query.question)
            response = self._error(query, dns.rcode.SERVFAIL)
        return self._to_wire(query, response, udp)

    def _to_wire(self, query: dns.message.Message, response: dns.message.Message,
                 udp: bool) -> bytes:
        # want_shuffle=False: the order is the zone's (resolve already shuffles where
        # Route 53 does); dnspython would otherwise shuffle every RRset again
        if udp:
            size = CLASSIC_UDP if query.edns < 0 else \
                max(CLASSIC_UDP, min(query.payload, self.max_udp_payload))
            return response.to_wire(max_size=size, prefer_truncation=True, want_shuffle=False)
        try:
            return response.to_wire(max_size=65535, want_shuffle=False)
        except dns.exception.TooBig:
            log.error("lbcore.dns: answer to %s exceeds 65535 bytes", query.question)
            return self._error(query, dns.rcode.SERVFAIL).to_wire()

    def _header_only(self, wire: bytes, rcode: dns.rcode.Rcode) -> bytes | None:
        if len(wire) < 12 or wire[2] & 0x80:      # no header, or a response
            return None
        m = dns.message.Message(id=int.from_bytes(wire[:2], "big"))
        m.flags = dns.flags.QR | (wire[2] << 8 & 0x7900)   # opcode and RD from the query
        m.set_rcode(rcode)
        return m.to_wire()

    def _error(self, query: dns.message.Message, rcode: dns.rcode.Rcode
               ) -> dns.message.Message:
        r = dns.message.make_response(query, our_payload=self.max_udp_payload)
        r.question = query.question if len(query.question) == 1 else []
        r.answer, r.authority, r.additional = [], [], []
        r.flags &= ~dns.flags.AA
        r.set_rcode(rcode)
        return r

    # ------------------------------------------------------------ one query
    def _response(self, query: dns.message.Message, source: str | None
                  ) -> dns.message.Message:
        if query.edns > 0:                          # RFC 6891 6.1.3
            return self._error(query, dns.rcode.BADVERS)
        if query.opcode() != dns.opcode.QUERY:
            return self._error(query, dns.rcode.NOTIMP)
        if len(query.question) != 1:
            return self._error(query, dns.rcode.FORMERR)
        q = query.question[0]
        if dns.rdatatype.is_metatype(q.rdtype) and q.rdtype != dns.rdatatype.ANY:
            # OPT/TSIG/... as a question is malformed; AXFR/IXFR: no zone transfers
            rcode = dns.rcode.REFUSED if q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR) \
                else dns.rcode.FORMERR
            return self._error(query, rcode)
        if q.rdclass != dns.rdataclass.IN or not q.name.is_subdomain(self.origin):
            return self._error(query, dns.rcode.REFUSED)
        ecs, client_ip = self._client_subnet(query, source)
        r = dns.message.make_response(query, our_payload=self.max_udp_payload)
        r.flags |= dns.flags.AA
        client = None if client_ip is None else self.locator(client_ip)
        if client is not None and not isinstance(client, Client):
            raise TypeError(f"locator returned {type(client).__name__}, not a Client")
        now = self.clock()
        tailored = self._answer(r, q.name, q.rdtype, client, now)
        if ecs is not None:
            scope = ecs.srclen if tailored else 0
            r.use_edns(0, payload=self.max_udp_payload, options=[self._ecs_answer(ecs, scope)])
        return r

    def _client_subnet(self, query: dns.message.Message, source: str | None
                       ) -> tuple[dns.edns.ECSOption | None, str | None]:
        """(the query's ECS option, the client address to locate) -- RFC 7871."""
        opts = [o for o in query.options if o.otype == _ECS]
        if not opts:
            return None, source
        if len(opts) > 1 or not isinstance(opts[0], dns.edns.ECSOption):
            raise _FormError                         # 7.1.1: at most one ECS option
        o = opts[0]
        bits = 32 if o.family == 1 else 128
        if o.srclen > bits:
            raise _FormError
        if o.srclen == 0:                            # 7.1.2: no client information
            return o, None
        # integers, not ipaddress objects (a fifth of a geolocation query's cost)
        packed = socket.inet_pton(socket.AF_INET if bits == 32 else socket.AF_INET6,
                                  o.address)
        if int.from_bytes(packed, "big") & ((1 << (bits - o.srclen)) - 1):
            raise _FormError                         # 6: bits beyond the prefix must be 0
        return o, socket.inet_ntop(socket.AF_INET if bits == 32 else socket.AF_INET6, packed)

    def _ecs_answer(self, ecs: dns.edns.ECSOption, scope: int) -> dns.edns.ECSOption:
        """The response's ECS option (the query's address and source prefix, ``scope``);
        options are immutable, so one object serves every answer for that subnet."""
        key = (ecs.address, ecs.srclen, scope)
        out = self._ecs_options.get(key)
        if out is None:
            out = dns.edns.ECSOption(ecs.address, ecs.srclen, scope)
            if len(self._ecs_options) >= _CACHE_LIMIT:
                self._ecs_options.clear()
            self._ecs_options[key] = out
        return out

    def _answer(self, r: dns.message.Message, qname: dns.name.Name, qtype: int,
                client: Client | None, now: float) -> bool:
        """Fill ``r``'s sections for ``qname``/``qtype``; whether the answer used the
        client's location (ECS scope)."""
        tailored = False
        seen: set[dns.name.Name] = set()
        owner = qname
        if qtype == dns.rdatatype.ANY:
            return self._answer_any(r, qname, client, now)
        text_type = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(qtype))
        for _ in range(MAX_CNAME_CHAIN + 1):
            name = owner.to_text()
            if text_type not in RECORD_TYPES:        # a type Route 53 has no records of
                if not self.zone.has_name(name):
                    r.set_rcode(dns.rcode.NXDOMAIN)
                self._negative(r)
                return tailored
            a = self.zone.resolve(name, text_type, client, now)
            tailored = tailored or _uses_client(a)
            if a.nxdomain or a.nodata:
                if a.nxdomain:
                    r.set_rcode(dns.rcode.NXDOMAIN)
                self._negative(r)
                return tailored
            rtype = a.record_sets[0].type
            if rtype == text_type:
                r.answer.append(self._rrset(owner, rtype, a))
                return tailored
            # a CNAME at the name (RFC 1034 4.3.2): answer it, follow it inside the zone
            r.answer.append(self._rrset(owner, "CNAME", a))
            seen.add(owner)
            target = dns.name.from_text(a.values[0])
            if not target.is_subdomain(self.origin) or target in seen:
                return tailored
            owner = target
        return tailored

    def _answer_any(self, r: dns.message.Message, qname: dns.name.Name,
                    client: Client | None, now: float) -> bool:
        name = qname.to_text()
        if not self.zone.has_name(name):
            r.set_rcode(dns.rcode.NXDOMAIN)
            self._negative(r)
            return False
        tailored = False
        types = dict.fromkeys(rs.type for rs in self.zone.record_sets(name))
        for t in types:
            a = self.zone.resolve(name, t, client, now)
            tailored = tailored or _uses_client(a)
            if a.record_sets:
                r.answer.append(self._rrset(qname, t, a))
        if not r.answer:
            self._negative(r)
        return tailored

    # ------------------------------------------------------------ records
    def _rrset(self, owner: dns.name.Name, rtype: str, a: Answer) -> dns.rrset.RRset:
        rdtype = dns.rdatatype.from_text(rtype)
        ttl = 60 if a.ttl is None else a.ttl
        rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
        for v in a.values:
            rrset.add(self._parse(rdtype, v), ttl)
        return rrset

    def _parse(self, rdtype: int, value: str) -> dns.rdata.Rdata:
        key = (rdtype, value)
        rd = self._rdata.get(key)
        if rd is None:
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype), value,
                                     origin=dns.name.root, relativize=False)
            if len(self._rdata) < _CACHE_LIMIT:
                self._rdata[key] = rd
        return rd

    def _negative(self, r: dns.message.Message) -> None:
        """The zone's SOA in the authority section, TTL = min(SOA TTL, SOA MINIMUM)
        (RFC 2308 sections 3 and 5)."""
        apex = self.zone.name
        soa = self.zone.resolve(apex, "SOA")
        if soa.record_sets and soa.record_sets[0].type == "SOA":
            rd = self._parse(dns.rdatatype.SOA, soa.values[0])
            ttl = 60 if soa.ttl is None else soa.ttl
        else:
            ns = self.zone.resolve(apex, "NS")
            primary = ns.values[0] if ns.record_sets and ns.record_sets[0].type == "NS" \
                else f"ns.{apex}."
            rd = self._parse(dns.rdatatype.SOA, _DEFAULT_SOA.format(ns=primary, zone=apex))
            ttl = _DEFAULT_SOA_TTL
        rrset = dns.rrset.RRset(self.origin, dns.rdataclass.IN, dns.rdatatype.SOA)
        rrset.add(rd, min(ttl, rd.minimum))   # type: ignore[attr-defined]
        r.authority.append(rrset)


def _uses_client(a: Answer) -> bool:
    return any(rs.policy in CLIENT_POLICIES for rs in a.record_sets)
