"""Naive reference for ALB rule matching: scan the rules in priority order and
evaluate every condition directly from the guide's wording, with a
dynamic-programming wildcard matcher (no regex for wildcards, no indexing, no
caches). ``RegexValues`` conditions: each regular expression searched on its own
(``re.search``) in the Host header as sent (case-insensitive), the path, or each
value of the header."""
import ipaddress
import re


def wild_match(pattern, text, escapes=False):
    """``*`` = any run of characters (including none), ``?`` = exactly one;
    with ``escapes``, ``\\*`` ``\\?`` ``\\\\`` are literal."""
    toks = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if escapes and c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            toks.append(("lit", pattern[i + 1]))
            i += 2
            continue
        toks.append(("star",) if c == "*" else ("one",) if c == "?" else ("lit", c))
        i += 1
    # dp[j] = tokens[:k] match text[:j]
    dp = [True] + [False] * len(text)
    for t in toks:
        new = [False] * (len(text) + 1)
        if t[0] == "star":
            acc = False
            for j in range(len(text) + 1):
                acc = acc or dp[j]
                new[j] = acc
        else:
            for j in range(1, len(text) + 1):
                new[j] = dp[j - 1] and (t[0] == "one" or text[j - 1] == t[1])
        dp = new
    return dp[len(text)]


def _host(request):
    h = request.host
    if h is None:
        return None
    if h.startswith("["):
        return h[:h.find("]") + 1].lower() if "]" in h else h.lower()
    return h.rsplit(":", 1)[0].lower() if ":" in h else h.lower()


_CONFIG = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig",
           "http-header": "HttpHeaderConfig"}


def regex_holds(raw, request):
    """A RegexValues condition, or None when ``raw`` has no regexes."""
    f = raw["Field"]
    cfg = raw.get(_CONFIG.get(f)) or {}
    rxs = cfg.get("RegexValues") or raw.get("RegexValues")
    if not rxs:
        return None
    if f == "host-header":
        return request.host is not None and any(re.search(r, request.host, re.I) for r in rxs)
    if f == "path-pattern":
        return any(re.search(r, request.path) for r in rxs)
    name = cfg["HttpHeaderName"].lower()
    values = [v for n, v in request.headers if n.lower() == name]
    return any(re.search(r, v) for r in rxs for v in values)


def condition_holds(cond, request):
    raw = cond  # a describe_rules condition dict
    f = raw["Field"]
    rx = regex_holds(raw, request)
    if rx is not None:
        return rx
    if f == "host-header":
        vals = (raw.get("HostHeaderConfig") or {}).get("Values") or raw.get("Values")
        h = _host(request)
        return h is not None and any(wild_match(v.lower(), h) for v in vals)
    if f == "path-pattern":
        vals = (raw.get("PathPatternConfig") or {}).get("Values") or raw.get("Values")
        return any(wild_match(v, request.path) for v in vals)
    if f == "http-request-method":
        return request.method in raw["HttpRequestMethodConfig"]["Values"]
    if f == "http-header":
        cfg = raw["HttpHeaderConfig"]
        name = cfg["HttpHeaderName"].lower()
        values = [v for n, v in request.headers if n.lower() == name]
        return any(wild_match(p.lower(), v.lower()) for p in cfg["Values"] for v in values)
    if f == "query-string":
        for kv in raw["QueryStringConfig"]["Values"]:
            for k, v in request.query:
                if "Key" in kv and kv["Key"] is not None and \
                        not wild_match(kv["Key"].lower(), k.lower(), True):
                    continue
                if wild_match(kv["Value"].lower(), v.lower(), True):
                    return True
        return False
    if f == "source-ip":
        a = ipaddress.ip_address(request.source_ip)
        return any(a in ipaddress.ip_network(c, strict=False)
                   for c in raw["SourceIpConfig"]["Values"])
    raise AssertionError(f)


def match_priority(rules, request):
    """Priority of the first rule (lowest priority number) whose conditions all
    hold; None = the default rule. ``rules``: describe_rules dicts."""
    for r in sorted((r for r in rules if r.get("Priority") != "default"),
                    key=lambda r: int(r["Priority"])):
        if all(condition_holds(c, request) for c in r["Conditions"]):
            return int(r["Priority"])
    return None
