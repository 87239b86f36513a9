"""HTTP requests as an ALB sees them.

:class:`Request` holds what listener rules match on (method, host, path, query
string, headers, source IP) plus cookies for stickiness. Build it from plain
values or from a raw HTTP/1.1 request head with :meth:`Request.from_bytes`
(strict, bounded parsing: malformed input raises ``ValueError`` saying what is
wrong). What the rules compare is exposed normalised:
:meth:`Headers.match_values` and :meth:`Request.query_match_keys`.
"""
from __future__ import annotations

import functools
import ipaddress
import re
from typing import Iterable, Iterator, Mapping, Sequence, Tuple, Union
from urllib.parse import unquote

__all__ = ["Request", "Headers", "QUERY_SEP", "MAX_HEAD_BYTES", "MAX_HEADERS"]

MAX_HEAD_BYTES = 65536      # whole request head (request line + headers)
MAX_LINE_BYTES = 16384      # one line
MAX_HEADERS = 100
QUERY_SEP = "\ud800"        # joins key and value of a query pair for matching; a lone
                            # surrogate cannot come out of percent-decoding (UTF-8, errors
                            # replaced) and is replaced in plain-value input.

_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TARGET = re.compile(rb"[\x21-\x7e]+\Z")
_VERSION = re.compile(rb"HTTP/1\.[01]\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# a whole header block that is valid (every line "token: value" with no control
# characters but HTAB) takes the fast path; anything else is re-checked line by
# line to report what is wrong.
_GOOD_BLOCK = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*\Z")
_ip_address = functools.lru_cache(maxsize=4096)(ipaddress.ip_address)
# RFC 3986 3.2.2 reg-name (an IPv4 address matches it too) and 3.2.3 port
_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*\Z")
_PORT = re.compile(r"[0-9]{0,5}\Z")
_NONE: tuple[str, ...] = ()
_new_object = object.__new__

HeaderItems = Union["Headers", Mapping[str, str], Iterable[Tuple[str, str]]]


class Headers:
    """Request headers: case-insensitive names, repeated headers kept in order."""

    __slots__ = ("_items", "_map", "_raw")
    _items: tuple[tuple[str, str], ...]
    _map: dict[str, list[str]]
    _raw: Sequence[tuple[str | bytes, str | bytes]] | None    # None once indexed

    @classmethod
    def trusted(cls, items: Sequence[tuple[str | bytes, str | bytes]]) -> Headers:
        """Headers from (name, value) pairs an HTTP server already parsed and
        checked, as ``str`` or as latin-1 ``bytes`` (an ASGI scope's
        ``headers``, aiohttp's ``raw_headers``): nothing is re-validated, and
        the pairs are decoded and indexed only when a header is first read."""
        self = cls.__new__(cls)
        self._raw = items
        return self

    def _values(self, name: str) -> list[str] | None:
        # the values of ``name`` (lower case): from the index, or, for trusted headers
        # not indexed yet, by a scan of the raw pairs that decodes only what matches
        raw = self._raw
        if raw is None:
            return self._map.get(name)
        bname = name.encode("latin-1")
        out = [v.decode("latin-1") if type(v) is bytes else v for k, v in raw
               if k.lower() == (bname if type(k) is bytes else name)]
        return out or None

    def __getattr__(self, name: str) -> object:
        # only for trusted(): the first read of _items or _map builds both
        if name != "_items" and name != "_map":
            raise AttributeError(name)
        try:
            raw = object.__getattribute__(self, "_raw")
        except AttributeError:
            raise AttributeError(name) from None
        items = [(k.decode("latin-1") if type(k) is bytes else k,
                  v.decode("latin-1") if type(v) is bytes else v) for k, v in raw]
        m: dict[str, list[str]] = {}
        for k, v in items:
            m.setdefault(k.lower(), []).append(v)
        self._items = tuple(items)    # type: ignore[assignment]
        self._map = m
        self._raw = None
        return self._items if name == "_items" else m

    @classmethod
    def _trusted(cls, items: list[tuple[str, str]]) -> Headers:
        """Headers from already-validated (name, value) pairs."""
        self = cls.__new__(cls)
        m: dict[str, list[str]] = {}
        for name, value in items:
            m.setdefault(name.lower(), []).append(value)
        self._items = tuple(items)
        self._map = m
        self._raw = None
        return self

    def __init__(self, items: HeaderItems = ()) -> None:
        if isinstance(items, Headers):
            items = items._items
        elif isinstance(items, Mapping):
            items = list(items.items())
        out: list[tuple[str, str]] = []
        m: dict[str, list[str]] = {}
        for i, pair in enumerate(items):
            try:
                name, value = pair
            except (TypeError, ValueError):
                raise TypeError(f"headers[{i}] must be a (name, value) pair") from None
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"headers[{i}]: name and value must be str")
            if not _TCHAR.match(name):
                raise ValueError(f"headers[{i}]: invalid header name {name!r}")
            if _BAD_VALUE.search(value):
                raise ValueError(f"headers[{i}]: control character in the value of {name!r}")
            out.append((name, value))
            m.setdefault(name.lower(), []).append(value)
        self._items = tuple(out)
        self._map = m
        self._raw = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (any case), or ``default``."""
        if type(name) is not str and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        v = self._map.get(name.lower())
        return v[0] if v else default

    def getall(self, name: str) -> list[str]:
        """Every value of ``name`` in order (a list; empty if absent)."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        return list(self._map.get(name.lower(), ()))

    def match_values(self, name: str) -> Sequence[str]:
        """The values of header ``name`` (given in lower case) lower-cased, in
        order: what an ``http-header`` rule condition compares."""
        v = self._map.get(name)
        return [x.lower() for x in v] if v else _NONE

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


def _parse_query(qs: str) -> tuple[tuple[str, str], ...]:
    """Raw query string -> tuple of (key, value), percent-decoded, in order."""
    pairs = []
    if qs:
        for part in qs.split("&"):
            if not part:
                continue
            k, sep, v = part.partition("=")
            pairs.append((unquote(k) if "%" in k else k, unquote(v) if "%" in v else v))
    return tuple(pairs)


def _parse_cookies(values: Iterable[str]) -> dict[str, str]:
    """Cookie header values -> {name: value} (first occurrence of a name wins)."""
    out: dict[str, str] = {}
    for header in values:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name and name not in out:
                out[name] = value.strip()
    return out


def _split_authority(authority: str) -> tuple[str, str | None]:
    """``uri-host [":" port]`` (RFC 9110 §4.1, §7.2; RFC 3986 §3.2.2-3.2.3)
    -> (host, port or None). The host is an IPv6 literal in brackets or a
    reg-name (IPv4 addresses included); the port is digits, possibly empty.
    Anything else (userinfo, a second ':', stray bytes) raises ValueError."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError(f"IPv6 literal without ']' in {authority[:60]!r}")
        host, rest = authority[:end + 1], authority[end + 1:]
        literal = host[1:-1]
        try:
            if "%" in literal:            # zone ids are not part of RFC 9110's uri-host
                raise ValueError
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise ValueError(f"invalid IPv6 literal {host[:60]!r}") from None
        if rest and rest[0] != ":":
            raise ValueError(f"unexpected {rest[:20]!r} after the IPv6 literal")
        port = rest[1:] if rest else None
    else:
        host, sep, port_s = authority.partition(":")
        port = port_s if sep else None
        if not _REG_NAME.match(host):
            raise ValueError(f"invalid host {host[:60]!r}")
    if port is not None and not (_PORT.match(port) and (not port or int(port) <= 65535)):
        raise ValueError(f"invalid port {port[:20]!r}")
    return host, port


@functools.lru_cache(maxsize=4096)
def _host_name(host: str) -> str:
    """What host-header conditions compare: the host without ``:port``,
    lower-cased. A value that is not ``uri-host [":" port]`` is compared whole
    (lower-cased): nothing is cut off it, so ``a.example:@b.example`` can never
    pass for ``a.example``."""
    try:
        name = _split_authority(host)[0]
    except ValueError:
        name = host
    return name.lower()


class Request:
    """An HTTP request as listener rules see it.

    ``target``: the request target, ``/path`` optionally followed by
    ``?query`` (the query may instead be given as ``query``: a raw string or a
    sequence of (key, value) pairs). ``host``: defaults to the Host header.
    ``headers``: a dict or sequence of (name, value) pairs (repeats kept).
    ``source_ip``: the client address the load balancer sees (IPv4/IPv6
    string). ``cookies``: extra {name: value} on top of the Cookie headers.
    ``protocol`` (HTTP|HTTPS) and ``port``: the listener the request came in on.

    Attributes used for matching: ``method``; ``host`` (as sent) and
    ``host_name`` (lower-case, without ``:port``); ``path`` (as sent, not
    decoded); ``query_string`` (raw) and ``query`` (decoded pairs in order).
    """

    __slots__ = ("method", "host", "host_name", "path", "query_string", "_query", "headers",
                 "source_ip", "source_address", "_cookies", "_extra_cookies", "protocol",
                 "port", "_qkeys")

    method: str
    host: str | None
    host_name: str | None
    path: str
    query_string: str
    headers: Headers
    source_ip: str
    source_address: ipaddress.IPv4Address | ipaddress.IPv6Address
    protocol: str
    port: int
    _query: tuple[tuple[str, str], ...] | None
    _cookies: dict[str, str] | None
    _extra_cookies: dict[str, str] | None
    _qkeys: tuple[str, ...] | None

    def __init__(self, method: str = "GET", target: str = "/", *, host: str | None = None,
                 query: str | Iterable[tuple[str, str]] | None = None,
                 headers: HeaderItems = (), source_ip: str = "0.0.0.0",
                 cookies: Mapping[str, str] | None = None, protocol: str = "HTTP",
                 port: int | None = None) -> None:
        if type(method) is not str or not _TCHAR.match(method):
            raise ValueError(f"method must be an HTTP token, got {method!r}")
        if type(target) is not str or not target:
            raise ValueError(f"target must be a non-empty str, got {target!r}")
        path, sep, qs = target.partition("?")
        if not path.startswith("/") and target != "*":
            raise ValueError(f"target must start with '/', got {target!r}")
        if query is not None:
            if sep:
                raise ValueError("query given both in target and as query")
            if isinstance(query, str):
                qs = query
                pairs: tuple[tuple[str, str], ...] | None = None
            else:
                given: list[tuple[str, str]] = []
                for i, pair in enumerate(query):
                    try:
                        k, v = pair
                    except (TypeError, ValueError):
                        raise TypeError(f"query[{i}] must be a (key, value) pair") from None
                    if not isinstance(k, str) or not isinstance(v, str):
                        raise TypeError(f"query[{i}]: key and value must be str")
                    given.append((k, v))
                pairs = tuple(given)
                qs = "&".join(f"{k}={v}" for k, v in pairs)
        else:
            pairs = None                      # parsed on first use (query)
        hdrs = headers if type(headers) is Headers else Headers(headers)
        if host is None:
            hv = hdrs._map.get("host")
            host = hv[0] if hv else None
        elif not isinstance(host, str):
            raise TypeError(f"host must be a str or None, got {type(host).__name__}")
        if protocol not in ("HTTP", "HTTPS"):
            raise ValueError(f"protocol must be 'HTTP' or 'HTTPS', got {protocol!r}")
        if port is None:
            port = 443 if protocol == "HTTPS" else 80
        elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if type(source_ip) is not str:
            raise TypeError(f"source_ip must be a str, got {type(source_ip).__name__}")
        try:
            addr = _ip_address(source_ip)
        except ValueError:
            raise ValueError(f"source_ip must be an IPv4 or IPv6 address, got {source_ip!r}") from None
        extra: dict[str, str] | None = None
        if cookies:
            extra = dict(cookies)
            for k, v in extra.items():
                if not isinstance(k, str) or not isinstance(v, str):
                    raise TypeError("cookies must map str to str")
        self.method = method
        self.host = host
        self.host_name = None if host is None else _host_name(host)
        self.path = path
        self.query_string = qs
        self._query = pairs
        self.headers = hdrs
        self.source_ip = source_ip
        self.source_address = addr
        self._cookies = None                   # parsed on first use (cookies)
        self._extra_cookies = extra or None
        self.protocol = protocol
        self.port = port
        self._qkeys = None

    @classmethod
    def trusted(cls, method: str, path: str, query_string: str = "",
                headers: Headers | Sequence[tuple[str | bytes, str | bytes]] = (), *,
                host: str | None = None, source_ip: str | None = None,
                protocol: str = "HTTP", port: int = 80) -> Request:
        """A request from what an HTTP server already parsed (the fast path of
        :mod:`lbcore.http`'s adapters): nothing is re-validated, so the caller
        vouches for every value. ``path`` as sent (not percent-decoded),
        ``query_string`` raw, ``headers`` a :class:`Headers` or (name, value)
        pairs of str or latin-1 bytes (decoded when first read, see
        :meth:`Headers.trusted`), ``host`` the Host header (None: none),
        ``source_ip`` the peer address (None, e.g. a Unix socket: ``0.0.0.0``),
        ``protocol`` and ``port`` the listener's. Use the constructor or
        :meth:`from_bytes` for input nobody has checked."""
        self = _new_object(cls)
        self.method = method
        self.host = host
        if host is None:
            self.host_name = None
        elif host.startswith("["):              # IPv6 literal
            self.host_name = (host[:host.find("]") + 1] if "]" in host else host).lower()
        else:
            self.host_name = (host.rsplit(":", 1)[0] if ":" in host else host).lower()
        self.path = path
        self.query_string = query_string
        self._query = None
        self.headers = headers if type(headers) is Headers else Headers.trusted(headers)
        if source_ip is None:
            source_ip = "0.0.0.0"
        self.source_ip = source_ip
        self.source_address = _ip_address(source_ip)
        self._cookies = None
        self._extra_cookies = None
        self.protocol = protocol
        self.port = port
        self._qkeys = None
        return self

    @property
    def query(self) -> tuple[tuple[str, str], ...]:
        """The query string's (key, value) pairs in order, percent-decoded."""
        q = self._query
        if q is None:
            q = self._query = _parse_query(self.query_string)
        return q

    @property
    def cookies(self) -> dict[str, str]:
        """{name: value} from the Cookie headers (first occurrence of a name
        wins), updated with the ``cookies`` argument."""
        c = self._cookies
        if c is None:
            v = self.headers._values("cookie")
            c = _parse_cookies(v) if v else {}
            if self._extra_cookies:
                c.update(self._extra_cookies)
            self._cookies = c
        return c

    def query_match_keys(self) -> tuple[str, ...]:
        """The query pairs as ``query-string`` rule conditions compare them:
        lower-case ``key + QUERY_SEP + value`` strings, in order (cached)."""
        q = self._qkeys
        if q is None:
            q = self._qkeys = tuple(
                (k.replace(QUERY_SEP, "\ufffd") + QUERY_SEP + v.replace(QUERY_SEP, "\ufffd")).lower()
                for k, v in self.query)
        return q

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, source_ip: str = "0.0.0.0",
                   protocol: str = "HTTP", port: int | None = None,
                   max_head_bytes: int = MAX_HEAD_BYTES,
                   max_headers: int = MAX_HEADERS) -> Request:
        """Parse a raw HTTP/1.x request head (request line, headers, empty
        line; bytes after it are ignored). Strict: origin-form or
        absolute-form target, HTTP/1.0 or 1.1, token header names, no
        obsolete line folding, no control characters, exactly one Host header
        for HTTP/1.1 whose value is ``uri-host [":" port]`` (RFC 9110 §7.2),
        at most ``max_headers`` headers and ``max_head_bytes`` bytes. An
        absolute-form ``http(s)://`` target must not carry userinfo (RFC 9110
        §4.2.4) nor an empty host (§4.2.1); its authority replaces the Host
        header (RFC 9112 §3.2.2). Anything else raises ``ValueError`` naming
        the problem."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
        data = bytes(data)
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > max_head_bytes:
                raise ValueError(f"data: request head longer than {max_head_bytes} bytes")
            raise ValueError("data: incomplete request head (no empty line after the headers)")
        if end + 4 > max_head_bytes:
            raise ValueError(f"data: request head longer than {max_head_bytes} bytes")
        head = data[:end].decode("latin-1")
        line_end = head.find("\r\n")
        if line_end < 0:
            line_end = len(head)
        block = head[line_end + 2:] + "\r\n" if line_end < len(head) else ""
        if (line_end <= MAX_LINE_BYTES and _GOOD_BLOCK.match(block)
                and block.count("\n") <= max_headers and "\r" not in head[:line_end]
                and "\n" not in head[:line_end]
                and max(map(len, block.split("\r\n"))) <= MAX_LINE_BYTES):
            first = head[:line_end].encode("latin-1")
            headers = []
            for line in block[:-2].split("\r\n") if block else ():
                name, _, value = line.partition(":")
                headers.append((name, value.strip(" \t")))
        else:
            first, headers = cls._check_lines(data[:end].split(b"\r\n"), max_headers)
        parts = first.split(b" ")
        if len(parts) != 3:
            raise ValueError("data: request line must be 'METHOD SP target SP HTTP-version'")
        method_b, target_b, version = parts
        method = method_b.decode("latin-1")
        if not _TCHAR.match(method):
            raise ValueError(f"data: invalid method {method!r}")
        if not _TARGET.match(target_b):
            raise ValueError("data: request target must be visible ASCII without spaces")
        if not _VERSION.match(version):
            raise ValueError(f"data: unsupported HTTP version {version[:16]!r}")
        target = target_b.decode("ascii")
        host_values = [v for n, v in headers if n.lower() == "host"]
        if len(host_values) > 1:
            raise ValueError("data: more than one Host header")
        if version == b"HTTP/1.1" and not host_values:
            raise ValueError("data: HTTP/1.1 request without a Host header")
        host = host_values[0] if host_values else None
        if host:                      # RFC 9110 7.2: Host = uri-host [":" port]
            try:
                _split_authority(host)
            except ValueError as e:
                raise ValueError(f"data: Host header: {e}") from None
        low = target[:8].lower()
        if low.startswith("http://") or low.startswith("https://"):
            rest = target.split("://", 1)[1]
            cut = len(rest)
            for c in "/?#":           # RFC 3986 3.2: the authority ends at / ? or #
                i = rest.find(c)
                if 0 <= i < cut:
                    cut = i
            authority, tail = rest[:cut], rest[cut:]
            if "@" in authority:      # RFC 9110 4.2.4: userinfo in http(s) is an error
                raise ValueError("data: userinfo ('user@') in an absolute-form target "
                                 "is not allowed in http(s) URIs")
            try:
                name, _ = _split_authority(authority)
            except ValueError as e:
                raise ValueError(f"data: absolute-form target: {e}") from None
            if not name:              # RFC 9110 4.2.1: an empty host is invalid
                raise ValueError("data: absolute-form target without a host")
            host = authority          # RFC 9112 3.2.2: the target's authority wins
            target = tail if tail.startswith("/") else "/" + tail
        elif target == "*":
            if method != "OPTIONS":
                raise ValueError("data: asterisk-form target is only allowed with OPTIONS")
        elif not target.startswith("/"):
            raise ValueError(f"data: request target must start with '/', got {target[:40]!r}")
        if "#" in target:
            raise ValueError("data: request target must not contain a fragment")
        return cls(method, target, host=host, headers=Headers._trusted(headers),
                   source_ip=source_ip, protocol=protocol, port=port)

    @staticmethod
    def _check_lines(lines: list[bytes],
                     max_headers: int) -> tuple[bytes, list[tuple[str, str]]]:
        """Line-by-line validation of a head the fast path refused: raises a
        ValueError naming the first problem (or returns like the fast path)."""
        for i, line in enumerate(lines):
            if len(line) > MAX_LINE_BYTES:
                raise ValueError(f"data: line {i + 1} longer than {MAX_LINE_BYTES} bytes")
            if b"\n" in line or b"\r" in line:
                raise ValueError(f"data: bare CR or LF in line {i + 1}")
        if len(lines) - 1 > max_headers:
            raise ValueError(f"data: more than {max_headers} headers")
        headers = []
        for i, line in enumerate(lines[1:], 2):
            if line[:1] in (b" ", b"\t"):
                raise ValueError(f"data: obsolete line folding in line {i}")
            name_b, colon, value_b = line.partition(b":")
            if not colon:
                raise ValueError(f"data: header line {i} has no ':'")
            name = name_b.decode("latin-1")
            if not _TCHAR.match(name):
                raise ValueError(f"data: invalid header name in line {i}: {name[:40]!r}")
            value = value_b.decode("latin-1").strip(" \t")
            if _BAD_VALUE.search(value):
                raise ValueError(f"data: control character in header {name!r}")
            headers.append((name, value))
        return lines[0], headers

    def __repr__(self) -> str:
        q = f"?{self.query_string}" if self.query_string else ""
        return f"<Request {self.method} {self.host_name}{self.path}{q} from {self.source_ip}>"
