"""Locators: a client address -> the :class:`lbcore.route53.Client` a zone resolves for.

A locator is any callable ``locator(ip: str) -> Client``. The server calls it with the EDNS
Client Subnet address (RFC 7871) when the query carries one, else with the address the
query came from. The default, :func:`address_only`, knows nothing but the address (enough
for IP-based routing); :class:`CidrLocator` adds a location (continent, country, US state,
coordinates, per-Region latencies) from a table of CIDR blocks, longest prefix first;
:class:`MaxMindLocator` reads a MaxMind DB (GeoIP2/GeoLite2 City layout).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from lbcore import PrefixTable
from lbcore.route53 import Client

__all__ = ["Locator", "CidrLocator", "MaxMindLocator", "address_only"]

Locator = Callable[[str], Client]

_CACHE_LIMIT = 65_536          # located clients a CidrLocator remembers
_FIELDS = tuple(f.name for f in dataclasses.fields(Client) if f.name != "ip")


def address_only(ip: str) -> Client:
    """The default locator: the client is its address, location unknown."""
    return Client(ip=ip)


class CidrLocator:
    """Locate clients by the longest CIDR block containing their address.

    ``table``: ``{cidr: location}``, a location being a :class:`Client` (its ``ip`` is
    ignored) or a mapping of ``Client`` fields (``continent``, ``country``,
    ``subdivision``, ``latitude``, ``longitude``, ``latencies``). An address in no block
    gets ``default`` (same forms; None = location unknown). The lookup is one
    ``lbcore.PrefixTable`` longest-prefix match.
    """

    def __init__(self, table: Mapping[str, Client | Mapping[str, Any]],
                 default: Client | Mapping[str, Any] | None = None) -> None:
        if not isinstance(table, Mapping):
            raise TypeError(f"table must map CIDR blocks to locations, got "
                            f"{type(table).__name__}")
        self._locations = [self._location(v, f"table[{k!r}]") for k, v in table.items()]
        self._table = PrefixTable(list(table), list(range(len(self._locations))))
        self._default = {} if default is None else self._location(default, "default")
        self._clients: dict[str, Client] = {}

    @staticmethod
    def _location(value: Client | Mapping[str, Any], name: str) -> dict[str, Any]:
        if isinstance(value, Client):
            loc = {f: getattr(value, f) for f in _FIELDS}
        elif isinstance(value, Mapping):
            unknown = set(value) - set(_FIELDS)
            if unknown:
                raise ValueError(f"{name}: unknown location fields {sorted(unknown)} "
                                 f"(known: {list(_FIELDS)})")
            loc = dict(value)
        else:
            raise TypeError(f"{name} must be a Client or a mapping of Client fields, got "
                            f"{type(value).__name__}")
        Client(**loc)                       # the fields' own checks, once
        return loc

    def __call__(self, ip: str) -> Client:
        # Clients are immutable and the table never changes: one per address seen, up to
        # a bound (a server meets the same ECS subnets again and again)
        client = self._clients.get(ip)
        if client is None:
            i = self._table.lookup(ip)
            client = Client(ip=ip, **(self._locations[i] if i >= 0 else self._default))
            if len(self._clients) >= _CACHE_LIMIT:
                self._clients.clear()
            self._clients[ip] = client
        return client

    def __repr__(self) -> str:
        return f"CidrLocator({len(self._locations)} blocks)"


class MaxMindLocator:
    """Locate clients with a MaxMind DB file (GeoIP2/GeoLite2 City or Country layout):
    ``continent.code``, ``country.iso_code``, the first of ``subdivisions`` (its
    ``iso_code``, used for US states), ``location.latitude``/``longitude``. Needs the
    ``maxminddb`` package (``pip install 'lbcore[geoip]'``). An address the database does
    not hold gets ``Client(ip=ip)``. ``close()`` (or ``with``) releases the file.
    """

    def __init__(self, path: str) -> None:
        try:
            import maxminddb
        except ImportError as exc:
            raise ImportError("MaxMindLocator needs maxminddb: pip install 'lbcore[geoip]'"
                              ) from exc
        try:
            self._reader = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ValueError(f"path: {path!r} is not a readable MaxMind DB: {exc}") from None
        self.path = path

    def __call__(self, ip: str) -> Client:
        rec: Any = self._reader.get(ip)
        if not isinstance(rec, Mapping):
            return Client(ip=ip)
        loc: dict[str, Any] = {}
        continent, country = rec.get("continent"), rec.get("country")
        if isinstance(continent, Mapping) and continent.get("code"):
            loc["continent"] = continent["code"]
        if isinstance(country, Mapping) and country.get("iso_code"):
            loc["country"] = country["iso_code"]
        subs = rec.get("subdivisions")
        if isinstance(subs, list) and subs and isinstance(subs[0], Mapping) \
                and subs[0].get("iso_code"):
            loc["subdivision"] = subs[0]["iso_code"]
        where = rec.get("location")
        if isinstance(where, Mapping) and where.get("latitude") is not None \
                and where.get("longitude") is not None:
            loc["latitude"] = float(where["latitude"])
            loc["longitude"] = float(where["longitude"])
        return Client(ip=ip, **loc)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> MaxMindLocator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MaxMindLocator({self.path!r})"
