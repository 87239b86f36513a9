"""lbcore.elb.Request: plain values and strict raw HTTP/1.x head parsing."""
import pytest
from hypothesis import given, settings, strategies as st

from lbcore.elb import Headers, Request


def test_plain_values():
    r = Request("POST", "/a/b?x=1&x=2&y", host="Api.Example.com:8443",
                headers=[("X-Id", "1"), ("x-id", "2"), ("Cookie", "s=abc; t=1"),
                         ("Cookie", "s=zzz")],
                source_ip="2001:db8::1", protocol="HTTPS")
    assert r.method == "POST" and r.path == "/a/b"
    assert r.host_name == "api.example.com"
    assert r.query == (("x", "1"), ("x", "2"), ("y", ""))       # repeated keys kept in order
    assert r.headers.getall("X-ID") == ["1", "2"]               # case-insensitive, in order
    assert r.headers.get("x-id") == "1"
    assert r.cookies == {"s": "abc", "t": "1"}                  # first occurrence wins
    assert r.port == 443 and r.source_address.version == 6


def test_query_percent_decoding_and_plus_kept():
    r = Request(target="/?a%20b=c%2Fd&e=f+g&h=%zz")
    assert r.query == (("a b", "c/d"), ("e", "f+g"), ("h", "%zz"))
    assert r.query_string == "a%20b=c%2Fd&e=f+g&h=%zz"
    assert Request(target="/p%41th").path == "/p%41th"          # the path is not decoded


def test_query_as_pairs_and_string():
    assert Request(query=[("k", "v"), ("k", "w")]).query == (("k", "v"), ("k", "w"))
    assert Request(query="k=v").query == (("k", "v"),)
    with pytest.raises(ValueError, match="query"):
        Request(target="/?a=1", query="b=2")


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"method": "GE T"}, ValueError, "method"),
    ({"target": "nopath"}, ValueError, "target"),
    ({"source_ip": "300.1.1.1"}, ValueError, "source_ip"),
    ({"source_ip": 5}, TypeError, "source_ip"),
    ({"protocol": "FTP"}, ValueError, "protocol"),
    ({"port": 0}, ValueError, "port"),
    ({"headers": [("X", "a\nb")]}, ValueError, "headers"),
    ({"headers": [("Bad Name", "a")]}, ValueError, "headers"),
    ({"host": 5}, TypeError, "host"),
])
def test_plain_value_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Request(**kwargs)


def test_from_bytes():
    raw = (b"GET /img/a.png?size=2&size=3 HTTP/1.1\r\nHost: www.Example.com\r\n"
           b"User-Agent: x\r\nCookie: AWSALB=abc\r\nX-M: 1\r\nx-m:   2  \r\n\r\nBODY")
    r = Request.from_bytes(raw, source_ip="192.0.2.1")
    assert (r.method, r.path, r.host_name) == ("GET", "/img/a.png", "www.example.com")
    assert r.query == (("size", "2"), ("size", "3"))
    assert r.headers.getall("X-M") == ["1", "2"]
    assert r.cookies["AWSALB"] == "abc"
    assert r.source_ip == "192.0.2.1"


def test_from_bytes_absolute_form_and_http10():
    r = Request.from_bytes(b"GET http://h.example/x?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
    assert r.host_name == "h.example" and r.path == "/x" and r.query == (("q", "1"),)
    r = Request.from_bytes(b"GET / HTTP/1.0\r\n\r\n")
    assert r.host is None
    assert Request.from_bytes(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").path == "*"


@pytest.mark.parametrize("raw, match", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n", "incomplete"),
    (b"GET / HTTP/1.1\r\n\r\n", "without a Host"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"),
    (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "request line"),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "version"),
    (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "method"),
    (b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", "visible ASCII"),
    (b"GET x HTTP/1.1\r\nHost: a\r\n\r\n", "start with '/'"),
    (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", "asterisk"),
    (b"GET /#f HTTP/1.1\r\nHost: a\r\n\r\n", "fragment"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", "folding"),
    (b"GET / HTTP/1.1\r\nHost a\r\n\r\n", "no ':'"),
    (b"GET / HTTP/1.1\r\nBad Name: a\r\nHost: a\r\n\r\n", "header name"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", "control character"),
    (b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "bare CR or LF"),
    (b"GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", "without a host"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 101 + b"\r\n", "more than 100 headers"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", "longer than"),
])
def test_from_bytes_malformed(raw, match):
    with pytest.raises(ValueError, match=match):
        Request.from_bytes(raw)


def test_from_bytes_type_and_limits():
    with pytest.raises(TypeError, match="data"):
        Request.from_bytes("GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ValueError, match="longer than 24 bytes"):
        Request.from_bytes(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", max_head_bytes=24)
    with pytest.raises(ValueError, match="more than 1 headers"):
        Request.from_bytes(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n", max_headers=1)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_crash(data):
    try:
        r = Request.from_bytes(data)
    except ValueError as e:
        assert str(e).startswith("data")
    else:
        assert isinstance(r, Request)


_tok = st.text(alphabet="abcXYZ-_!~", min_size=1, max_size=5)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"GET", b"POST", b"DELETE"]),
       st.text(alphabet="abc/%?=&;+", max_size=20),
       st.lists(st.tuples(_tok, st.text(alphabet="abc ;=\t", max_size=8)), max_size=5),
       st.integers(0, 40), st.integers(0, 255))
def test_fuzz_mutated_valid_heads(method, target, headers, pos, byte):
    raw = bytearray(method + b" /" + target.encode() + b" HTTP/1.1\r\nHost: h.example\r\n"
                    + b"".join(n.encode() + b": " + v.encode() + b"\r\n" for n, v in headers)
                    + b"\r\n")
    ok = Request.from_bytes(bytes(raw))
    assert ok.host_name == "h.example"
    raw[pos % len(raw)] = byte          # one corrupted byte: a valid request or a clear error
    try:
        r = Request.from_bytes(bytes(raw))
    except ValueError as e:
        assert str(e).startswith("data")
        return
    # whatever the fast path accepted, the line-by-line checker accepts the same way
    end = bytes(raw).find(b"\r\n\r\n")
    first, headers = Request._check_lines(bytes(raw)[:end].split(b"\r\n"), 100)
    assert list(r.headers) == headers


def test_headers_object():
    h = Headers({"A": "1"})
    assert "a" in h and len(h) == 1 and list(h) == [("A", "1")]
    with pytest.raises(TypeError, match="headers"):
        Headers([("a",)])


# --- authority parsing: RFC 9110 §4.1, §4.2.1, §4.2.4, §7.2; RFC 9112 §3.2, §3.2.2 ---

def _head(target: bytes, host: bytes | None = b"h.example") -> bytes:
    hdr = b"" if host is None else b"Host: " + host + b"\r\n"
    return b"GET " + target + b" HTTP/1.1\r\n" + hdr + b"\r\n"


@pytest.mark.parametrize("target", [
    b"http://allowed.example.com:@evil.com/",       # the reported bypass
    b"http://user@allowed.example.com/",
    b"http://user:pass@allowed.example.com/x",
    b"https://allowed.example.com@evil.com/",
    b"HTTP://u@h.example/",                          # the scheme is case-insensitive
    b"http://@h.example/",                           # empty userinfo is still userinfo
])
def test_absolute_form_userinfo_rejected(target):
    # RFC 9110 §4.2.4: a recipient of an http(s) URI from an untrusted source
    # SHOULD treat the presence of userinfo as an error.
    with pytest.raises(ValueError, match="userinfo"):
        Request.from_bytes(_head(target))


@pytest.mark.parametrize("target, host, host_name, path, query", [
    # RFC 9112 §3.2.2: the target's authority replaces the Host header
    (b"http://a.example/x", b"other.example", "a.example", "/x", ()),
    (b"http://A.Example:8080/x", b"other", "a.example", "/x", ()),
    # RFC 3986 §3.2.3 / RFC 9110 §4.1: the port may be empty (default port)
    (b"http://a.example:/x", b"h", "a.example", "/x", ()),
    # RFC 3986 §3.2: the authority ends at the first '/', '?' or '#'
    (b"http://a.example?q=1", b"h", "a.example", "/", (("q", "1"),)),
    (b"http://a.example", b"h", "a.example", "/", ()),
    # IPv6 literals (RFC 3986 §3.2.2): the brackets stay, the port goes
    (b"http://[::1]:8080/p", b"h", "[::1]", "/p", ()),
    (b"http://[2001:DB8::1]/p", b"h", "[2001:db8::1]", "/p", ()),
    (b"http://192.0.2.1:81/", b"h", "192.0.2.1", "/", ()),
])
def test_absolute_form_authority(target, host, host_name, path, query):
    r = Request.from_bytes(_head(target, host))
    assert (r.host_name, r.path, r.query) == (host_name, path, query)
    assert r.headers.get("host") == host.decode()    # the header itself is kept as sent


@pytest.mark.parametrize("target, match", [
    (b"http://:80/", "without a host"),               # RFC 9110 §4.2.1: empty host
    (b"http://a.example:8x/", "port"),
    (b"http://a.example:99999/", "port"),
    (b"http://a.example:80:81/", "port"),
    (b"http://[::1/", "IPv6"),
    (b"http://[nothex]/", "IPv6"),
    (b"http://[::1]x/", "after the IPv6"),
    (b"http://::1/", "port"),                         # IPv6 without brackets
    (b"http://a\"b/", "invalid host"),
])
def test_absolute_form_bad_authority(target, match):
    with pytest.raises(ValueError, match=match) as e:
        Request.from_bytes(_head(target))
    assert str(e.value).startswith("data")


@pytest.mark.parametrize("host, host_name", [
    (b"h.example", "h.example"),
    (b"H.Example:8443", "h.example"),
    (b"h.example:", "h.example"),                     # empty port
    (b"[::1]:8080", "[::1]"),
    (b"[::1]", "[::1]"),
    (b"192.0.2.1:80", "192.0.2.1"),
    (b"xn--bcher-kva.example", "xn--bcher-kva.example"),
    (b"a%41.example", "a%41.example"),                # pct-encoded is reg-name
])
def test_host_header_valid(host, host_name):
    assert Request.from_bytes(_head(b"/", host)).host_name == host_name


def test_host_header_empty_allowed():
    # RFC 9112 §3.2: a client sends an empty Host when the URI has no authority
    assert Request.from_bytes(_head(b"/", b"")).host_name == ""


@pytest.mark.parametrize("host", [
    b"allowed.example.com:@evil.com",                 # the bypass, via the header
    b"user@h.example",
    b"h.example:80:80",
    b"h.example:http",
    b"[::1",
    b"[::1]junk",
    b"[fe80::1%25eth0]",                              # zone ids are not in uri-host
    b"h example",
    b"h.example/path",
])
def test_host_header_invalid(host):
    # RFC 9112 §3.2: 400 for a Host header field with an invalid field value
    with pytest.raises(ValueError, match="Host header") as e:
        Request.from_bytes(_head(b"/", host))
    assert str(e.value).startswith("data")


@pytest.mark.parametrize("host, host_name", [
    ("Api.Example.com:8443", "api.example.com"),
    ("[::1]:8080", "[::1]"),
    ("h.example:", "h.example"),
    # not uri-host [":" port]: compared whole, never cut down to a valid-looking prefix
    ("allowed.example.com:@evil.com", "allowed.example.com:@evil.com"),
    ("a:b:c", "a:b:c"),
])
def test_plain_host_name(host, host_name):
    assert Request(host=host).host_name == host_name


def test_userinfo_bypass_does_not_match_a_host_rule():
    from lbcore.elb import RuleSet, parse_rule
    rule = parse_rule({"Priority": "1", "Conditions": [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["allowed.example.com"]}}]}, "r")
    rs = RuleSet([rule], parse_rule({"Priority": "default", "IsDefault": True,
                                     "Conditions": []}, "default"))
    assert rs.match(Request(host="allowed.example.com:8080")).priority == 1
    # the old rsplit(':') made this 'allowed.example.com' and the rule matched
    assert rs.match(Request(host="allowed.example.com:@evil.com")).priority != 1
    for raw in (b"GET http://allowed.example.com:@evil.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: allowed.example.com:@evil.com\r\n\r\n"):
        with pytest.raises(ValueError):
            Request.from_bytes(raw)
